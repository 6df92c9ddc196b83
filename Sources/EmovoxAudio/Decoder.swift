import Foundation
import EmovoxCore
import EmovoxUtilities
import CVideoDecode

/// Any audio file, or a video's soundtrack, decoded in-process by FFmpeg's libraries to mono float at one rate:
/// the samples of `ffmpeg -i FILE -vn -ac 1 -ar RATE -f f32le -` (a test compares them), without a process start
/// per file, streamed in chunks. With `start`/`end` (seconds on the media's time line) it seeks, so one utterance of
/// a long recording costs only its own decoding; the samples equal the same slice of the whole file's decode.
public final class AudioDecoder {
    private let handle: OpaquePointer
    public let path: String
    public let sampleRate: Int
    public let start: Double?
    public let end: Double?
    private var delivered = 0

    public init(_ path: String, sampleRate: Int = AudioLoader.sampleRate, start: Double? = nil, end: Double? = nil) throws {
        try AudioDecoder.checkRange(start: start, end: end, file: path)
        try AudioDecoder.checkReadable(path)
        self.path = path; self.sampleRate = sampleRate; self.start = start; self.end = end
        var err = [CChar](repeating: 0, count: 256)
        guard let h = emv_audio_open(path, Int32(sampleRate), start ?? 0, end ?? 0, &err, Int32(err.count)) else {
            throw EmovoxError(String(cString: err), file: path)
        }
        handle = h
    }

    deinit { emv_audio_close(handle) }

    /// The media's duration in seconds from its container (nil when it does not say).
    public var duration: Double? { let d = emv_audio_duration(handle); return d >= 0 ? d : nil }

    /// Up to `count` next samples; empty at the end (of the file, or of the range).
    public func read(_ count: Int) throws -> [Float] {
        var err = [CChar](repeating: 0, count: 256)
        var out = [Float](repeating: 0, count: count)
        let n = out.withUnsafeMutableBufferPointer { emv_audio_read(handle, $0.baseAddress, Int32(count), &err, Int32(err.count)) }
        guard n >= 0 else { throw EmovoxError(String(cString: err), file: path) }
        out.removeLast(count - Int(n))
        delivered += Int(n)
        return out
    }

    /// Every (remaining) sample. Memory grows with the length: for long media read in chunks instead.
    public func readAll(chunk: Int = 1 << 16) throws -> [Float] {
        var all: [Float] = []
        while true {
            let s = try read(chunk)
            if s.isEmpty { return all }
            all += s
        }
    }

    /// The samples a range should hold; nil without an end.
    public var expectedSamples: Int? { end.map { Int((($0 - (start ?? 0)) * Double(sampleRate)).rounded()) } }

    static func checkRange(start: Double?, end: Double?, file: String) throws {
        if let s = start, !(s.isFinite && s >= 0) { throw EmovoxError("the clip's start (\(s) s) must be a finite time ≥ 0", file: file) }
        if let e = end, !(e.isFinite && e > (start ?? 0)) {
            throw EmovoxError("the clip's end (\(e) s) must be a finite time after its start (\(start ?? 0) s)", file: file)
        }
    }

    /// Missing and empty files get their own words (libav would say "Invalid data found").
    static func checkReadable(_ path: String) throws {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw EmovoxError(FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file", file: path)
        }
        if size == 0 { throw EmovoxError("empty file", file: path) }
    }
}

/// What a media file holds, read from its stream information without decoding (cheap: `corpus scan` asks it of every video).
public enum MediaProbe {
    public struct Info: Equatable {
        public var hasAudio: Bool
        /// Seconds, from the container; nil when it does not say.
        public var duration: Double?
    }

    public static func info(_ path: String) throws -> Info {
        try AudioDecoder.checkReadable(path)
        var duration = 0.0, err = [CChar](repeating: 0, count: 256)
        let r = emv_audio_probe(path, &duration, &err, Int32(err.count))
        guard r >= 0 else { throw EmovoxError(String(cString: err), file: path) }
        return Info(hasAudio: r == 1, duration: duration >= 0 ? duration : nil)
    }

    /// Peak level at or below which a soundtrack counts as silent (−80 dBFS, the loader's "near-silent").
    public static let silencePeak: Float = 1e-4

    public enum Soundtrack: Equatable { case missing, silent, sound }

    /// Whether the media has an audio stream and any sound in it, with one opening of the file: decodes until the first
    /// sample above `silencePeak`, so a file with sound costs a few milliseconds and only a silent one is decoded to its end.
    public static func soundtrack(_ path: String) throws -> Soundtrack {
        let d: AudioDecoder
        do { d = try AudioDecoder(path) } catch let e as EmovoxError where e.message == "no audio stream" { return .missing }  // audio_decode.c's words
        while true {
            let s = try d.read(8192)
            if s.isEmpty { return .silent }
            if s.contains(where: { abs($0) > silencePeak }) { return .sound }
        }
    }

    public static func hasSound(_ path: String) throws -> Bool { try soundtrack(path) == .sound }
}
