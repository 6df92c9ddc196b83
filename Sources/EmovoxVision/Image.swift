import Foundation
import EmovoxCore
import EmovoxUtilities

/// An 8-bit grey image, row-major.
public struct GrayImage: Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "GrayImage: \(pixels.count) pixels for \(width)×\(height)")
        self.width = width; self.height = height; self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }

    /// OpenCV's BGR2GRAY on packed RGB: Y = (4899·R + 9617·G + 1868·B + 2¹³) >> 14 (fixed-point 0.299/0.587/0.114).
    public init(rgb: [UInt8], width: Int, height: Int) {
        self = rgb.withUnsafeBufferPointer { GrayImage(rgb: $0, width: width, height: height) }
    }

    /// `rowBytes`: bytes from one row to the next (decoders pad rows; default packed, 3 × width).
    public init(rgb: UnsafeBufferPointer<UInt8>, width: Int, height: Int, rowBytes: Int? = nil) {
        let stride = rowBytes ?? 3 * width
        precondition(stride >= 3 * width && rgb.count >= stride * (height - 1) + 3 * width,
                     "GrayImage: \(rgb.count) RGB bytes for \(width)×\(height)")
        let p = [UInt8](unsafeUninitializedCapacity: width * height) { out, n in
            for y in 0..<height {
                let row = y * stride, o = y * width
                for x in 0..<width {
                    let r = Int(rgb[row + 3 * x]), g = Int(rgb[row + 3 * x + 1]), b = Int(rgb[row + 3 * x + 2])
                    out[o + x] = UInt8((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14)
                }
            }
            n = width * height
        }
        self.init(width: width, height: height, pixels: p)
    }

    /// Pixels inside [x, x+w) × [y, y+h), clipped to the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> GrayImage {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(width, x + w), y1 = min(height, y + h)
        guard x1 > x0, y1 > y0 else { return GrayImage(width: 0, height: 0, pixels: []) }
        var p = [UInt8](); p.reserveCapacity((x1 - x0) * (y1 - y0))
        for yy in y0..<y1 { p += pixels[(yy * width + x0)..<(yy * width + x1)] }
        return GrayImage(width: x1 - x0, height: y1 - y0, pixels: p)
    }
}

/// Image files: PGM, PNG and JPEG in-process (PNG/JPEG through libpng and libjpeg-turbo, recognised by their
/// signature); other formats (BMP, TIFF, WebP, …) through ffmpeg as RGB. Colour becomes grey by OpenCV's formula.
public enum ImageIO {
    public static let extensions: Set<String> = ["pgm", "png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp", "ppm"]

    public static func isImage(_ path: String) -> Bool { extensions.contains((path as NSString).pathExtension.lowercased()) }

    public static func read(_ path: String) throws -> GrayImage {
        guard FileManager.default.fileExists(atPath: path) else { throw EmovoxError("no such file", file: path) }
        let ext = (path as NSString).pathExtension.lowercased()
        if ext == "pgm" || ImageCodecs.nativeExtensions.contains(ext) {
            guard let d = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read", file: path) }
            if ext == "pgm" { return try decodePGM(d, name: path) }
            if let img = try ImageCodecs.decode(d, name: path) { return img }
        }
        return try readWithFFmpeg(path)
    }

    /// Any format FFmpeg's libraries read, first frame, as RGB → grey.
    public static func readWithFFmpeg(_ path: String) throws -> GrayImage {
        let decoder = try VideoDecoder(path)
        try decoder.setFilters("format=rgb24")
        guard let img = try decoder.next() else {
            throw EmovoxError("could not decode the image (no frame)", file: path)
        }
        return img
    }

    public static func decodePGM(_ d: Data, name: String) throws -> GrayImage {
        let b = [UInt8](d)
        var i = 0
        func token() -> String? {
            while i < b.count {
                if b[i] == UInt8(ascii: "#") { while i < b.count && b[i] != 10 { i += 1 } } else if b[i] <= 32 { i += 1 } else { break }
            }
            var s = ""
            while i < b.count && b[i] > 32 { s.append(Character(UnicodeScalar(b[i]))); i += 1 }
            return s.isEmpty ? nil : s
        }
        guard let magic = token(), magic == "P5" || magic == "P2" else { throw EmovoxError("not a PGM image (expected P5 or P2)", file: name) }
        guard let w = token().flatMap(Int.init), let h = token().flatMap(Int.init), let maxv = token().flatMap(Int.init),
              w > 0, h > 0, maxv > 0, maxv < 65536 else { throw EmovoxError("malformed PGM header", file: name) }
        // A damaged header must not make us allocate (or loop over) more pixels than any image has.
        guard w <= 1 << 15, h <= 1 << 15 else { throw EmovoxError("PGM size \(w)×\(h) is larger than 32768×32768", file: name) }
        if magic == "P2" {
            var px = [UInt8]()
            for _ in 0..<(w * h) {
                guard let v = token().flatMap(Int.init) else { throw EmovoxError("truncated PGM data", file: name) }
                guard (0...maxv).contains(v) else { throw EmovoxError("PGM sample \(v) outside 0…\(maxv) (the maxval)", file: name) }
                px.append(UInt8(v * 255 / maxv))
            }
            return GrayImage(width: w, height: h, pixels: px)
        }
        i += 1  // single whitespace after maxval
        let bpp = maxv > 255 ? 2 : 1
        guard b.count >= i + w * h * bpp else { throw EmovoxError("truncated PGM data (\(b.count - i) of \(w * h * bpp) bytes)", file: name) }
        let samples = bpp == 1 ? b[i..<(i + w * h)].map(Int.init) : (0..<(w * h)).map { k in Int(b[i + 2 * k]) << 8 | Int(b[i + 2 * k + 1]) }
        // A sample above the maxval is a damaged file (scaled, it would not fit a byte).
        if let bad = samples.first(where: { $0 > maxv }) { throw EmovoxError("PGM sample \(bad) above the maxval \(maxv)", file: name) }
        return GrayImage(width: w, height: h, pixels: samples.map { UInt8($0 * 255 / maxv) })
    }

    public static func encodePGM(_ img: GrayImage) -> Data {
        Data("P5\n\(img.width) \(img.height)\n255\n".utf8) + Data(img.pixels)
    }

    public static func writePGM(_ img: GrayImage, to path: String) throws { try AtomicFile.write(encodePGM(img), to: path) }
}

/// Resizing as OpenCV does it for 8-bit images.
public enum Resize {
    /// cv2.INTER_AREA for downscaling: each output pixel is the coverage-weighted mean of the source box.
    public static func area(_ img: GrayImage, width dw: Int, height dh: Int) -> GrayImage {
        let sx = Double(img.width) / Double(dw), sy = Double(img.height) / Double(dh)
        func spans(_ n: Int, _ s: Double, _ limit: Int) -> [[(Int, Double)]] {
            (0..<n).map { d in
                let a = Double(d) * s, b = min(Double(d + 1) * s, Double(limit))
                var out: [(Int, Double)] = []
                var k = Int(a.rounded(.down))
                while Double(k) < b - 1e-9 && k < limit {
                    let w = min(b, Double(k + 1)) - max(a, Double(k))
                    if w > 1e-9 { out.append((k, w)) }
                    k += 1
                }
                return out
            }
        }
        if sx < 1 || sy < 1 { return bilinear(img, width: dw, height: dh) }  // INTER_AREA upscales bilinearly
        let xs = spans(dw, sx, img.width), ys = spans(dh, sy, img.height)
        var out = [UInt8](repeating: 0, count: dw * dh)
        for y in 0..<dh { for x in 0..<dw {
            var acc = 0.0, wsum = 0.0
            for (yy, wy) in ys[y] { for (xx, wx) in xs[x] { acc += Double(img.pixels[yy * img.width + xx]) * wx * wy; wsum += wx * wy } }
            out[y * dw + x] = UInt8(max(0, min(255, (acc / wsum).rounded())))
        } }
        return GrayImage(width: dw, height: dh, pixels: out)
    }

    /// cv2.INTER_LINEAR in OpenCV's 11-bit fixed point (half-pixel centres, clamped borders).
    public static func bilinear(_ img: GrayImage, width dw: Int, height dh: Int) -> GrayImage {
        let bits = 11, one = 1 << bits
        func taps(_ n: Int, _ src: Int) -> [(Int, Int, Int, Int)] {
            let scale = Double(src) / Double(n)
            return (0..<n).map { d in
                var f = (Double(d) + 0.5) * scale - 0.5
                var s = Int(f.rounded(.down))
                f -= Double(s)
                if s < 0 { s = 0; f = 0 }
                if s >= src - 1 { s = src - 1; f = 0 }
                let w1 = Int((Float(f) * Float(one)).rounded()), w0 = one - w1
                return (s, min(s + 1, src - 1), w0, w1)
            }
        }
        // Taps as four flat arrays per axis (source index pair, weight pair): the pixel loops run in EmovoxKernels.
        func flat(_ t: [(Int, Int, Int, Int)]) -> [Int] { t.flatMap { [$0.0, $0.1, $0.2, $0.3] } }
        let tx = flat(taps(dw, img.width)), ty = flat(taps(dh, img.height))
        let out = [UInt8](unsafeUninitializedCapacity: dw * dh) { o, n in
            img.pixels.withUnsafeBufferPointer { src in tx.withUnsafeBufferPointer { xt in ty.withUnsafeBufferPointer { yt in
                ResizeKernels.bilinear(src.baseAddress!, width: img.width, height: img.height, columnTaps: xt.baseAddress!,
                                       rowTaps: yt.baseAddress!, into: o.baseAddress!, width: dw, height: dh)
            } } }
            n = dw * dh
        }
        return GrayImage(width: dw, height: dh, pixels: out)
    }
}
