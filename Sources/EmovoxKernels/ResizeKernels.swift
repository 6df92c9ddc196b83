import Foundation

/// Image resizing's pixel loops (Resize in EmovoxVision computes the taps): the Haar detector resizes every frame
/// once per scale, so this runs over tens of millions of pixels per minute of video.
public enum ResizeKernels {
    /// cv2.INTER_LINEAR in OpenCV's 11-bit fixed point. `columnTaps` holds (a, b, w0, w1) for each of the `dw` output
    /// columns and `rowTaps` for each of the `dh` output rows: source indices a, b (in range) and weights summing to 2¹¹.
    public static func bilinear(_ src: UnsafePointer<UInt8>, width sw: Int, height sh: Int, columnTaps tx: UnsafePointer<Int>,
                                rowTaps ty: UnsafePointer<Int>, into out: UnsafeMutablePointer<UInt8>, width dw: Int, height dh: Int) {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: sh * dw) { buffer in
            let rows = buffer.baseAddress!
            for y in 0..<sh {
                let line = src + y * sw, r = rows + y * dw
                for x in 0..<dw {
                    let t = tx + 4 * x
                    r[x] = Int(line[t[0]]) * t[2] + Int(line[t[1]]) * t[3]
                }
            }
            for y in 0..<dh {
                let t = ty + 4 * y, ra = rows + t[0] * dw, rb = rows + t[1] * dw, w0 = t[2], w1 = t[3], o = out + y * dw
                for x in 0..<dw {
                    // OpenCV's vectorised vertical pass: each product pre-shifted by 4 and 16, then (v + 2) >> 2.
                    let v = (((w0 * (ra[x] >> 4)) >> 16) + ((w1 * (rb[x] >> 4)) >> 16) + 2) >> 2
                    o[x] = UInt8(truncatingIfNeeded: max(0, min(255, v)))
                }
            }
        }
    }
}
