import Foundation
import EmovoxCore

/// Video decoding through ffmpeg: grey frames at a chosen rate (default the paper's 25/6 fps), streamed.
public enum VideoReader {
    public static let paperFPS = 25.0 / 6.0
    public static let extensions: Set<String> = ["mp4", "flv", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "wmv"]

    public static func isVideo(_ path: String) -> Bool { extensions.contains((path as NSString).pathExtension.lowercased()) }

    /// Width and height of the first video stream (ffprobe).
    public static func frameSize(_ path: String) throws -> (Int, Int) {
        let out = try Subprocess.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                                                 "-of", "csv=p=0", path], forFile: path)
        let parts = String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: ",").compactMap { Int($0) }
        guard parts.count >= 2, parts[0] > 0, parts[1] > 0 else { throw EmovoxError("no video stream (or unreadable file)", file: path) }
        return (parts[0], parts[1])
    }

    /// Calls `body(index, timeSeconds, frame)` for frames sampled at `fps` (nil = every frame at its native rate).
    /// Frame k of a resampled stream sits at k / fps seconds. Returns the number of frames read.
    @discardableResult
    public static func frames(_ path: String, fps: Double? = paperFPS, _ body: (Int, Double, GrayImage) throws -> Void) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { throw EmovoxError("no such file", file: path) }
        var filters = ["format=rgb24"]
        if let fps { filters.insert("fps=\(fps)", at: 0) }
        // ffmpeg starts first and decodes while ffprobe reads the frame size: on a short clip the two process
        // start-ups were half of the time (≈0.12 s each on a 1.9 s CREMA-D clip).
        let (process, handle) = try Subprocess.stream("ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-an", "-vf", filters.joined(separator: ","),
                                                                 "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], forFile: path)
        let w: Int, h: Int, rate: Double
        do {
            (w, h) = try frameSize(path)
            rate = try fps ?? nativeRate(path)
        } catch {
            process.terminate(); process.waitUntilExit()
            throw error
        }
        let frameBytes = w * h * 3
        var index = 0
        while true {
            var data = Data()
            while data.count < frameBytes {
                let chunk = handle.readData(ofLength: frameBytes - data.count)
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            if data.count < frameBytes { break }
            try body(index, Double(index) / rate, GrayImage(rgb: [UInt8](data), width: w, height: h))
            index += 1
        }
        process.waitUntilExit()
        if process.terminationStatus != 0 && index == 0 { throw EmovoxError("ffmpeg could not decode the video", file: path) }
        return index
    }

    static func nativeRate(_ path: String) throws -> Double {
        let out = String(decoding: try Subprocess.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=avg_frame_rate",
                                                                  "-of", "csv=p=0", path], forFile: path), as: UTF8.self)
        let p = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "/").compactMap { Double($0) }
        guard let n = p.first, n > 0 else { throw EmovoxError("unknown frame rate", file: path) }
        return p.count > 1 && p[1] > 0 ? n / p[1] : n
    }
}

/// Face crops for the teacher, cut like the `fer` package: the (square) box grown by 10 px on each side,
/// on the image padded by 40 px of its bottom-row mean, then resized to 64×64 by area averaging.
public enum FaceCrop {
    public static let padding = 40

    public static func crop(_ img: GrayImage, box: Box, margin: Int = 10, size: Int = 64) -> GrayImage {
        // Square the box by growing its shorter side about the centre (fer's tosquare).
        var b = box
        if b.height > b.width { b.x -= (b.height - b.width) / 2; b.width = b.height } else if b.width > b.height { b.y -= (b.width - b.height) / 2; b.height = b.width }
        let fill = Self.fill(img)
        let x0 = max(0, b.x - margin + padding), y0 = max(0, b.y - margin + padding)
        let x1 = min(img.width + 2 * padding, b.x + b.width + margin + padding), y1 = min(img.height + 2 * padding, b.y + b.height + margin + padding)
        var px = [UInt8](repeating: fill, count: max(0, x1 - x0) * max(0, y1 - y0))
        for y in y0..<y1 { for x in x0..<x1 {
            let sx = x - padding, sy = y - padding
            if sx >= 0 && sy >= 0 && sx < img.width && sy < img.height { px[(y - y0) * (x1 - x0) + (x - x0)] = img.pixels[sy * img.width + sx] }
        } }
        return Resize.area(GrayImage(width: x1 - x0, height: y1 - y0, pixels: px), width: size, height: size)
    }

    /// Grey level for pixels outside the image: the mean of its bottom two rows (as fer pads).
    public static func fill(_ img: GrayImage) -> UInt8 {
        let bottom = img.pixels.suffix(2 * img.width)
        return UInt8((Double(bottom.reduce(0) { $0 + Int($1) }) / Double(max(bottom.count, 1))).rounded())
    }

    /// Teacher input scaling of fer: x/255 → (x − 0.5)·2.
    public static func teacherInput(_ crop: GrayImage) -> [Float] { crop.pixels.map { (Float($0) / 255 - 0.5) * 2 } }
}
