import XCTest
import EmovoxCore
@testable import EmovoxVision

/// Native PNG/JPEG decoding against Pillow's decode + OpenCV's grey formula (tools/gen_image_fixtures.py).
final class ImageCodecTests: XCTestCase {
    static let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("images").path
    static let expected: [String: [String: Any]] = {
        let d = try! Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json"))
        return (try! JSONSerialization.jsonObject(with: d) as! [String: Any])["images"] as! [String: [String: Any]]
    }()

    func testEveryFixtureMatchesTheOracle() throws {
        XCTAssertEqual(Self.expected.count, 14)
        for (name, want) in Self.expected.sorted(by: { $0.key < $1.key }) {
            let img = try ImageIO.read(Self.dir + "/" + name)
            XCTAssertEqual([img.width, img.height], [want["width"] as! Int, want["height"] as! Int], name)
            let diff = zip(img.pixels.map(Int.init), want["pixels"] as! [Int]).map { abs($0 - $1) }.max() ?? 255
            // PNG is lossless: exact. JPEG: libjpeg-turbo versions may round the IDCT/upsampling differently, ±1.
            XCTAssertLessThanOrEqual(diff, name.hasSuffix(".jpg") ? 1 : 0, name)
            if diff > 0 { print("\(name): max |difference| to the oracle \(diff)") }
        }
    }

    func testSignatureDecidesTheFormat() throws {
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/grey.jpg"))
        let tmp = NSTemporaryDirectory() + "emovox-misnamed-\(getpid()).png"
        try jpeg.write(to: URL(fileURLWithPath: tmp)); defer { try? FileManager.default.removeItem(atPath: tmp) }
        XCTAssertEqual(try ImageIO.read(tmp).pixels.map(Int.init).count, 19 * 13)
        XCTAssertEqual(ImageCodecs.format(of: jpeg), .jpeg)
    }

    /// Every way of breaking a file gives an error naming it (never a crash, exit or a grey-padded image).
    func testCorruptAndTruncatedFilesThrowNamedErrors() throws {
        for name in ["rgb8.png", "rgb8_interlaced.png", "grey16.png", "baseline420.jpg", "progressive.jpg", "grey.jpg"] {
            let good = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/" + name))
            var flipped = good
            if name.hasSuffix(".png") {
                flipped[good.count / 2] ^= 0x55  // PNG chunks carry a CRC
            } else {
                // JPEG entropy data has no checksum (a flipped bit may decode to valid pixels): break a marker
                // instead, start of scan → end of image, so the stream has no image data.
                let sos = (0..<(good.count - 1)).first { good[$0] == 0xFF && good[$0 + 1] == 0xDA }!
                flipped[sos + 1] = 0xD9
            }
            let cases: [(String, Data)] = [("half", good.prefix(good.count / 2)), ("header-only", good.prefix(40)),
                                           ("no-end", good.prefix(good.count - 12)), ("flipped", flipped),
                                           ("empty", Data()), ("garbage", Data("not an image at all".utf8))]
            for (what, data) in cases {
                let label = "\(what)-\(name)"
                XCTAssertThrowsError(try ImageCodecs.decode(data, name: label), label) { e in
                    XCTAssertTrue("\(e)".hasPrefix(label + ": "), "\(e)")
                }
            }
        }
    }

    func testReadManyKeepsOrderAndReportsBadFiles() throws {
        let tmp = NSTemporaryDirectory() + "emovox-readmany-\(getpid())"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let good = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/rgb8.png"))
        try good.prefix(100).write(to: URL(fileURLWithPath: tmp + "/cut.png"))
        let names = Self.expected.keys.sorted()
        let paths = names.map { Self.dir + "/" + $0 } + [tmp + "/cut.png", tmp + "/missing.png"]
        let out = ImageIO.readMany(paths) { Resize.bilinear($0, width: 8, height: 6) }
        XCTAssertEqual(out.count, paths.count)
        for (k, name) in names.enumerated() {
            let single = Resize.bilinear(try ImageIO.read(Self.dir + "/" + name), width: 8, height: 6)
            XCTAssertEqual(try out[k].get(), single, name)
        }
        guard case .failure(let cut) = out[names.count], case .failure(let missing) = out[names.count + 1] else { return XCTFail("bad files decoded") }
        XCTAssertEqual(cut.file, tmp + "/cut.png"); XCTAssertTrue(cut.message.contains("corrupt PNG"), cut.message)
        XCTAssertEqual(missing.file, tmp + "/missing.png")
    }
}
