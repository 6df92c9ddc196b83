import Foundation

/// The Haar cascade's inner loops on raw buffers (HaarCascade in EmovoxVision parses the cascade and drives the scales).
public enum HaarKernels {
    /// Integral images of a `width`×`height` 8-bit image with a zero first row and column: `sum` and `squares` hold
    /// (height + 1)·(width + 1) values. The Int32 sums wrap (&+) on images above 8.4 M pixels; a rectangle's
    /// four-corner difference is still exact, since every rectangle of a cascade window sums to far less than 2³¹.
    public static func integralImages(_ pixels: UnsafePointer<UInt8>, width: Int, height: Int,
                                      sum: UnsafeMutablePointer<Int32>, squares: UnsafeMutablePointer<Int64>) {
        let W = width + 1
        for y in 0..<height {
            var rs: Int32 = 0, rq: Int64 = 0
            for x in 0..<width {
                let v = Int32(pixels[y * width + x])
                rs = rs &+ v; rq += Int64(v * v)
                sum[(y + 1) * W + x + 1] = sum[y * W + x + 1] &+ rs
                squares[(y + 1) * W + x + 1] = squares[y * W + x + 1] + rq
            }
        }
    }

    /// A cascade as flat tables: stage s owns stumps stageEnd[s-1]..<stageEnd[s], stump t owns rectangles
    /// rectStart[t]..<rectStart[t+1], rectangle r has weight rectWeight[r] and four corner offsets
    /// corners[4r..<4r+4] in the integral image being scanned.
    public struct Cascade {
        let stageEnd: UnsafeBufferPointer<Int>, stageThreshold: UnsafePointer<Float>
        let stumpThreshold: UnsafePointer<Float>, stumpLeft: UnsafePointer<Float>, stumpRight: UnsafePointer<Float>
        let rectStart: UnsafePointer<Int>, rectWeight: UnsafePointer<Float>, corners: UnsafePointer<Int>

        public init(stageEnd: UnsafeBufferPointer<Int>, stageThreshold: UnsafePointer<Float>, stumpThreshold: UnsafePointer<Float>,
                    stumpLeft: UnsafePointer<Float>, stumpRight: UnsafePointer<Float>, rectStart: UnsafePointer<Int>,
                    rectWeight: UnsafePointer<Float>, corners: UnsafePointer<Int>) {
            self.stageEnd = stageEnd; self.stageThreshold = stageThreshold; self.stumpThreshold = stumpThreshold
            self.stumpLeft = stumpLeft; self.stumpRight = stumpRight; self.rectStart = rectStart
            self.rectWeight = rectWeight; self.corners = corners
        }
    }

    /// Slides the `windowWidth`×`windowHeight` window over a `width`×`height` image (its integral images from
    /// `integralImages`) every `step` pixels as OpenCV does, and calls `hit(x, y)` for each window every stage accepts.
    public static func scan(sum: UnsafePointer<Int32>, squares q: UnsafePointer<Int64>, width sw: Int, height sh: Int,
                            windowWidth: Int, windowHeight: Int, step: Int, cascade: Cascade, _ hit: (Int, Int) -> Void) {
        let W = sw + 1
        let normArea = Double((windowWidth - 2) * (windowHeight - 2))
        let se = cascade.stageEnd, sth = cascade.stageThreshold, th = cascade.stumpThreshold
        let lf = cascade.stumpLeft, rt = cascade.stumpRight, rs = cascade.rectStart, rw = cascade.rectWeight, cn = cascade.corners
        func rect(_ p: UnsafePointer<Int32>, _ x: Int, _ y: Int, _ w: Int, _ h: Int) -> Int32 {
            p[(y + h) * W + x + w] &- p[y * W + x + w] &- p[(y + h) * W + x] &+ p[y * W + x]
        }
        var y = 0
        while y + windowHeight <= sh {
            var x = 0
            while x + windowWidth <= sw {
                // Variance normalisation over the window shrunk by one pixel (OpenCV's normrect).
                let vs = Double(rect(sum, x + 1, y + 1, windowWidth - 2, windowHeight - 2))
                let a = (y + 1) * W + x + 1, b = (y + 1) * W + x + windowWidth - 1
                let c = (y + windowHeight - 1) * W + x + 1, d = (y + windowHeight - 1) * W + x + windowWidth - 1
                let vq = Double(q[d] - q[b] - q[c] + q[a])
                let nf2 = normArea * vq - vs * vs
                var result = -1  // flat windows are rejected before any stage (no skip-ahead)
                if nf2 > 0, normArea / nf2.squareRoot() < 0.1 {
                    let inv = Float(1 / nf2.squareRoot())
                    result = 1
                    let window = sum + y * W + x
                    var stump = 0
                    for si in 0..<se.count {
                        var acc: Float = 0
                        while stump < se[si] {
                            var v: Float = 0
                            for r in rs[stump]..<rs[stump + 1] {
                                // rect() with the corners precomputed: same Int32 sum, same order.
                                let k = cn + 4 * r
                                let area: Int32 = window[k[3]] &- window[k[1]] &- window[k[2]] &+ window[k[0]]
                                v += rw[r] * Float(area)
                            }
                            acc += v * inv < th[stump] ? lf[stump] : rt[stump]
                            stump += 1
                        }
                        if acc < sth[si] { result = si == 0 ? 0 : -1; break }
                    }
                }
                if result > 0 { hit(x, y) }
                x += result == 0 ? 2 * step : step  // OpenCV skips ahead after a first-stage rejection
            }
            y += step
        }
    }
}
