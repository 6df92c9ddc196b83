import Foundation
import EmovoxCore
import EmovoxVision

/// Random geometric and photometric changes of a face crop (the FER+ paper's augmentation family).
public struct FaceAugmentation: Codable, Equatable {
    public var maxShift: Float = 0.08        // of the crop size, each axis
    public var maxRotationDegrees: Float = 10
    public var scaleRange: ClosedRange<Float> = 0.9...1.1
    public var flip = true
    public var maxBrightness: Float = 0.1     // of full scale, added
    public var maxContrast: Float = 0.2       // relative, multiplied about mid-grey
    public init() {}

    /// The teacher input (size × size floats in [-1, 1], fer's scaling) of `img` under one random draw.
    public func apply(_ img: GrayImage, size: Int, rng: inout SeededRNG) -> [Float] {
        func uniform(_ a: Float) -> Float { (rng.uniform() * 2 - 1) * a }
        let angle = uniform(maxRotationDegrees) * .pi / 180
        let scale = scaleRange.lowerBound + rng.uniform() * (scaleRange.upperBound - scaleRange.lowerBound)
        let dx = uniform(maxShift) * Float(size), dy = uniform(maxShift) * Float(size)
        let mirror = flip && rng.uniform() < 0.5
        let gain = 1 + uniform(maxContrast), offset = uniform(maxBrightness) * 255
        // Inverse map: output pixel centre → source position (half-pixel centres, as in the plain resize).
        let sx = Float(img.width) / Float(size), sy = Float(img.height) / Float(size)
        let c = Float(size) / 2, cosA = cos(angle) / scale, sinA = sin(angle) / scale
        var out = [Float](repeating: 0, count: size * size)
        img.pixels.withUnsafeBufferPointer { px in
            for v in 0..<size { for u in 0..<size {
                var x = Float(u) + 0.5 - c - dx, y = Float(v) + 0.5 - c - dy
                if mirror { x = -x }
                let xr = cosA * x + sinA * y + c, yr = -sinA * x + cosA * y + c
                let fx = xr * sx - 0.5, fy = yr * sy - 0.5
                let x0 = Int(fx.rounded(.down)), y0 = Int(fy.rounded(.down))
                let ax = fx - Float(x0), ay = fy - Float(y0)
                @inline(__always) func at(_ x: Int, _ y: Int) -> Float {
                    Float(px[min(max(y, 0), img.height - 1) * img.width + min(max(x, 0), img.width - 1)])
                }
                let top = at(x0, y0) * (1 - ax) + at(x0 + 1, y0) * ax, bottom = at(x0, y0 + 1) * (1 - ax) + at(x0 + 1, y0 + 1) * ax
                let value = min(max((top * (1 - ay) + bottom * ay - 127.5) * gain + 127.5 + offset, 0), 255)
                out[v * size + u] = (value / 255 - 0.5) * 2
            } }
        }
        return out
    }
}

public enum FaceInput {
    /// The evaluation/runtime input: the crop resized like `emovox teacher --crops` does, fer's scaling.
    public static func plain(_ img: GrayImage, size: Int) -> [Float] {
        FaceCrop.teacherInput(img.width == size && img.height == size ? img : Resize.area(img, width: size, height: size))
    }
}
