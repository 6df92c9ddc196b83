import XCTest
import EmovoxCore
@testable import EmovoxVision

final class FaceJitterTests: XCTestCase {
    static let oracle: [String: Any] = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("jitter_oracle.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    var image: GrayImage {
        let o = Self.oracle
        return GrayImage(width: o["width"] as! Int, height: o["height"] as! Int, pixels: (o["image"] as! [Int]).map(UInt8.init))
    }

    /// The affine warp equals OpenCV's warpAffine (bilinear, constant border, inverse map) up to its 1/32-pixel
    /// fixed-point coordinates: within 2 grey levels, 0.5 on average.
    func testWarpMatchesOpenCVWarpAffine() {
        let img = image, fill = UInt8(Self.oracle["fill"] as! Int)
        XCTAssertEqual(FaceCrop.fill(img), fill)
        for case let c as [String: Any] in Self.oracle["cases"] as! [Any] {
            let size = c["size"] as! Int, expected = c["pixels"] as! [Int]
            let out = FaceJitter.warp(img, centreX: c["cx"] as! Double, centreY: c["cy"] as! Double, side: c["side"] as! Double,
                                      angle: (c["degrees"] as! Double) * Double.pi / 180, size: size, fill: fill)
            let diffs = zip(out.pixels, expected).map { abs(Int($0) - $1) }
            XCTAssertLessThanOrEqual(diffs.max()!, 2, "case \(c["degrees"]!)°")
            XCTAssertLessThanOrEqual(Double(diffs.reduce(0, +)) / Double(diffs.count), 0.5, "case \(c["degrees"]!)°")
        }
    }

    /// No jitter at all reproduces the plain face crop exactly (square box whose side + margins is 2 × 64).
    func testZeroJitterIsThePlainCrop() {
        var none = FaceJitter()
        none.shift = 0; none.scale = 1...1; none.rotationDegrees = 0; none.brightness = 0
        let img = VisionTests.synthetic(200, 180), box = Box(x: 40, y: 30, width: 108, height: 108)
        var rng = SeededRNG(seed: 1)
        XCTAssertEqual(none.crop(img, box: box, rng: &rng), FaceCrop.crop(img, box: box))
    }

    /// Jittered crops are 64 × 64, differ between streams, repeat for the same stream, and stay near the plain crop.
    func testJitterVariesDeterministicallyAndStaysClose() {
        let img = image, box = Box(x: 28, y: 20, width: 40, height: 40), plain = FaceCrop.crop(img, box: box)
        let j = FaceJitter()
        var a = SeededRNG(seed: SeededRNG.stableKey("clip-1"), epoch: 0, position: 3), b = a, c = SeededRNG(seed: SeededRNG.stableKey("clip-2"), epoch: 0, position: 3)
        let x = j.crop(img, box: box, rng: &a), y = j.crop(img, box: box, rng: &b), z = j.crop(img, box: box, rng: &c)
        XCTAssertEqual(x, y)
        XCTAssertNotEqual(x, z)
        XCTAssertEqual([x.width, x.height], [64, 64])
        let mad = zip(x.pixels, plain.pixels).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(plain.pixels.count)
        XCTAssertGreaterThan(mad, 0.5)
        XCTAssertLessThan(mad, 40)
        XCTAssertEqual(SeededRNG.stableKey(""), 0xcbf2_9ce4_8422_2325)  // FNV-1a offset basis
        XCTAssertEqual(SeededRNG.stableKey("a"), 0xaf63_dc4c_8601_ec8c)  // FNV-1a 64 of "a"
    }
}
