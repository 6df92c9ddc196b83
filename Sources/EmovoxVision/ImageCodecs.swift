import Foundation
import EmovoxCore
import EmovoxUtilities
import CImageCodecs

/// PNG and JPEG decoding in-process through libpng and libjpeg-turbo (the C shim keeps their longjmp-based
/// error handling out of Swift): one ffmpeg process per image ran at ~2 images/s, these at dataset speed.
public enum ImageCodecs {
    public static let nativeExtensions: Set<String> = ["png", "jpg", "jpeg"]

    public enum Format: String { case png, jpeg }

    /// The format by the file's signature, not its name.
    public static func format(of data: Data) -> Format? {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if data.count >= 8 && data.prefix(8).elementsEqual(png) { return .png }
        if data.count >= 3 && data.prefix(3).elementsEqual([0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// Grey pixels of a PNG or JPEG held in memory (`name` is for messages). nil for a variant libjpeg cannot
    /// turn into RGB (CMYK): the caller falls back to ffmpeg. Corrupt or truncated data throws.
    public static func decode(_ data: Data, name: String) throws -> GrayImage? {
        guard let format = format(of: data) else {
            throw EmovoxError(data.isEmpty ? "empty file" : "not a PNG or JPEG file (unknown signature)", file: name)
        }
        var img = emx_image()
        let status = data.withUnsafeBytes { raw -> emx_status in
            let p = raw.bindMemory(to: UInt8.self).baseAddress!
            return format == .png ? emx_decode_png(p, raw.count, &img) : emx_decode_jpeg(p, raw.count, &img)
        }
        defer { emx_image_free(&img) }
        let message = withUnsafeBytes(of: img.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch status {
        case EMX_OK: break
        case EMX_UNSUPPORTED: return nil
        default: throw EmovoxError("corrupt \(format.rawValue.uppercased()) (\(message))", file: name)
        }
        let w = Int(img.width), h = Int(img.height)
        let bytes = UnsafeBufferPointer(start: img.pixels, count: w * h * Int(img.channels))
        return img.channels == 1 ? GrayImage(width: w, height: h, pixels: Array(bytes)) : GrayImage(rgb: bytes, width: w, height: h)
    }
}

extension ImageIO {
    /// Reads many images on `Threads.available` threads (each file is one task), in input order; a bad file
    /// gives its error in place so a batch job can skip and report it.
    public static func readMany(_ paths: [String], transform: (GrayImage) -> GrayImage = { $0 }) -> [Result<GrayImage, EmovoxError>] {
        var out = [Result<GrayImage, EmovoxError>](repeating: .failure(EmovoxError("not read")), count: paths.count)
        out.withUnsafeMutableBufferPointer { slots in
            let slots = slots
            Threads.forEachDynamic(paths.count) { i in
                do { slots[i] = .success(transform(try read(paths[i]))) } catch let e as EmovoxError {
                    slots[i] = .failure(e)
                } catch {
                    slots[i] = .failure(EmovoxError("\(error)", file: paths[i]))
                }
            }
        }
        return out
    }
}
