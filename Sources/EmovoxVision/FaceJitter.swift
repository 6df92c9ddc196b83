import Foundation
import EmovoxCore

/// Teacher-side augmentation: each face crop is taken with a small random shift, scale and rotation and a
/// brightness offset, so the targets drawn from one face source vary between the clips that share it.
/// Off unless set (`emovox label --jitter`); the recipe search decides whether it helps.
public struct FaceJitter: Codable, Equatable, Sendable {
    /// Largest shift of the crop centre, as a fraction of the crop side.
    public var shift: Double = 0.05
    /// Crop side scale factor range.
    public var scale: ClosedRange<Double> = 0.95...1.05
    /// Largest rotation in degrees (either way).
    public var rotationDegrees: Double = 8
    /// Largest brightness offset in grey levels (either way).
    public var brightness: Double = 20

    public init() {}

    /// The face crop `FaceCrop.crop` would take, jittered by `rng`: same square box and margin, then the affine
    /// warp (rendered at a whole multiple of `size` so the final area resize averages, as the plain crop does).
    public func crop(_ img: GrayImage, box: Box, margin: Int = 10, size: Int = 64, rng: inout SeededRNG) -> GrayImage {
        let side0 = Double(max(box.width, box.height) + 2 * margin)
        let cx0 = Double(box.x) + Double(box.width) / 2 - 0.5, cy0 = Double(box.y) + Double(box.height) / 2 - 0.5
        func u() -> Double { Double(rng.uniform()) * 2 - 1 }
        let side = side0 * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * Double(rng.uniform()))
        let cx = cx0 + u() * shift * side0, cy = cy0 + u() * shift * side0
        let angle = u() * rotationDegrees * Double.pi / 180
        let offset = u() * brightness
        let render = size * max(1, Int((side / Double(size)).rounded()))
        var out = Resize.area(Self.warp(img, centreX: cx, centreY: cy, side: side, angle: angle, size: render, fill: FaceCrop.fill(img)),
                              width: size, height: size)
        for i in out.pixels.indices { out.pixels[i] = UInt8(max(0, min(255, (Double(out.pixels[i]) + offset).rounded()))) }
        return out
    }

    /// A `size`×`size` view of the square of `side` pixels centred at (centreX, centreY) (pixel centres at integer
    /// coordinates), rotated by `angle` radians; bilinear, pixels outside the image read as `fill`
    /// (OpenCV's warpAffine with INTER_LINEAR, BORDER_CONSTANT and the inverse map, which the tests check).
    public static func warp(_ img: GrayImage, centreX: Double, centreY: Double, side: Double, angle: Double, size: Int, fill: UInt8) -> GrayImage {
        let step = side / Double(size), c = cos(angle) * step, s = sin(angle) * step
        let half = 0.5 - Double(size) / 2
        let ox = centreX + c * half - s * half, oy = centreY + s * half + c * half
        var out = [UInt8](repeating: fill, count: size * size)
        let f = Double(fill)
        func pixel(_ x: Int, _ y: Int) -> Double { x >= 0 && y >= 0 && x < img.width && y < img.height ? Double(img.pixels[y * img.width + x]) : f }
        for v in 0..<size { for u in 0..<size {
            let x = ox + c * Double(u) - s * Double(v), y = oy + s * Double(u) + c * Double(v)
            let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
            let fx = x - Double(x0), fy = y - Double(y0)
            let top = pixel(x0, y0) * (1 - fx) + pixel(x0 + 1, y0) * fx, bottom = pixel(x0, y0 + 1) * (1 - fx) + pixel(x0 + 1, y0 + 1) * fx
            out[v * size + u] = UInt8(max(0, min(255, (top * (1 - fy) + bottom * fy).rounded())))
        } }
        return GrayImage(width: size, height: size, pixels: out)
    }
}
