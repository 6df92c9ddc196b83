import Foundation
import EmovoxCore
import EmovoxUtilities
import CVideoDecode

/// Video decoding with FFmpeg's libraries, in-process: grey frames at a chosen rate (default the paper's 25/6 fps), streamed.
public enum VideoReader {
    public static let paperFPS = 25.0 / 6.0
    public static let extensions: Set<String> = ["mp4", "flv", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "wmv"]

    public static func isVideo(_ path: String) -> Bool { extensions.contains((path as NSString).pathExtension.lowercased()) }

    /// Calls `body(index, timeSeconds, frame)` for frames sampled at `fps` (nil = the stream's own frame rate, as
    /// a constant rate: frame k sits at k / rate, which is what VoxCeleb track files' frame numbers assume).
    /// Returns the number of frames read. The frames are those of `ffmpeg -i path -vf fps=FPS,format=rgb24`
    /// (a test compares them byte for byte), decoded in-process one frame ahead on a background thread, so
    /// decoding overlaps the caller's work on the frame before.
    ///
    /// `start`/`end` (seconds in the media) read a part only: the decoder seeks to the key frame before `start`, and
    /// times and indices count from the first frame at or after `start`. Frames taller than `maxHeight` are scaled down
    /// (aspect kept) by libav after the frame sampling and before the colour conversion, so a 1080p video is
    /// converted and searched at that height; frames no taller pass through untouched.
    @discardableResult
    public static func frames(_ path: String, fps: Double? = paperFPS, start: Double = 0, end: Double? = nil, maxHeight: Int? = nil,
                              _ body: (Int, Double, GrayImage) throws -> Void) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { throw EmovoxError("no such file", file: path) }
        let decoder = try VideoDecoder(path)
        let rate: Double, sampling: String
        if let fps { rate = fps; sampling = "fps=\(fps)" } else {
            guard let r = decoder.frameRate else { throw EmovoxError("unknown frame rate", file: path) }
            rate = Double(r.num) / Double(r.den); sampling = "fps=\(r.num)/\(r.den)"
        }
        var filters = [sampling + (maxHeight.map { scaling(toHeight: $0) } ?? ""), "format=rgb24"]
        if start > 0 || end != nil {
            if start > 0 { decoder.seek(to: start) }
            filters.insert("trim=start=\(start)" + (end.map { ":end=\($0)" } ?? "") + ",setpts=PTS-STARTPTS", at: 0)
        }
        try decoder.setFilters(filters.joined(separator: ","))
        let ahead = Prefetcher<GrayImage?>(count: .max, depth: 2) { _ in try decoder.next() }
        defer { ahead.cancel() }
        var index = 0
        while let item = try ahead.next(), let frame = item {
            try body(index, Double(index) / rate, frame)
            index += 1
        }
        if index == 0 { throw EmovoxError(start > 0 || end != nil ? "no video frame between \(start) s and \(end.map { "\($0) s" } ?? "the end")" : "no video frame could be decoded", file: path) }
        return index
    }

    /// The filter that brings frames taller than `height` down to it (even width, aspect kept). For a frame no
    /// taller, width and height evaluate to the frame's own, and libav's scale filter then passes it through.
    static func scaling(toHeight height: Int) -> String {
        precondition(height >= 2, "a frame height of at least 2")
        return ",scale=w='if(gt(ih,\(height)),-2,iw)':h='min(ih,\(height))'"
    }
}

/// One video (or image) file decoded in-process by FFmpeg's libraries, its frames passed through a filtergraph
/// ending in rgb24 and returned as grey images. One consumer at a time.
public final class VideoDecoder {
    private let handle: OpaquePointer
    public let path: String

    /// Decoding runs on one thread: callers overlap it with their own work (`VideoReader.frames`).
    public init(_ path: String) throws {
        self.path = path
        var err = [CChar](repeating: 0, count: 256)
        guard let h = emv_video_open(path, 1, &err, Int32(err.count)) else { throw EmovoxError(String(cString: err), file: path) }
        handle = h
    }

    deinit { emv_video_close(handle) }

    /// The stream's frame rate as a fraction, as the ffmpeg tool guesses it; nil when the file does not say.
    public var frameRate: (num: Int, den: Int)? {
        var n: Int32 = 0, d: Int32 = 0
        return emv_video_frame_rate(handle, &n, &d) == 0 ? (Int(n), Int(d)) : nil
    }

    /// Jumps to the key frame at or before `seconds`, before the first `next()`; a file that cannot seek is read from
    /// its beginning (the caller's filters drop the frames before the start either way).
    public func seek(to seconds: Double) { _ = emv_video_seek(handle, seconds) }

    /// The FFmpeg filtergraph every frame passes through; it must end in rgb24. Set once, before `next()`.
    public func setFilters(_ filters: String) throws {
        guard emv_video_set_filters(handle, filters) == 0 else { throw EmovoxError("the frame filters can only be set before the first frame", file: path) }
    }

    /// The next frame, or nil at the end of the stream.
    public func next() throws -> GrayImage? {
        var frame = emv_frame(), err = [CChar](repeating: 0, count: 256)
        switch emv_video_next(handle, &frame, &err, Int32(err.count)) {
        case 1:
            let w = Int(frame.width), h = Int(frame.height), stride = Int(frame.linesize)
            return GrayImage(rgb: UnsafeBufferPointer(start: frame.rgb, count: stride * (h - 1) + 3 * w), width: w, height: h, rowBytes: stride)
        case 0: return nil
        default: throw EmovoxError(String(cString: err), file: path)
        }
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
