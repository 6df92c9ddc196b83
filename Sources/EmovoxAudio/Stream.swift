import Foundation
import EmovoxCore
import EmovoxUtilities

/// Sliding windows over long audio with bounded memory: samples are pulled from the in-process decoder (any
/// file libav reads, optionally one part of it) or from raw 16 kHz s16le PCM on standard input, and only one window
/// plus one read chunk is held.
public final class AudioStream {
    private let decoder: AudioDecoder?
    private let handle: FileHandle?
    private let bytesPerSample = 2
    private let name: String
    public let sampleRate: Int
    /// A decoding failure met by `read`, reported by `readChecked` and `windows`.
    private var failure: Error?

    /// Any file libav reads, resampled to 16 kHz mono float; `start`/`end` (seconds) stream only that part.
    public init(path: String, sampleRate: Int = AudioLoader.sampleRate, start: Double? = nil, end: Double? = nil) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw EmovoxError("no such file", file: path) }
        decoder = try AudioDecoder(path, sampleRate: sampleRate, start: start, end: end)
        handle = nil
        name = path
        self.sampleRate = sampleRate
    }

    /// Raw 16-bit little-endian mono PCM at `sampleRate` from a handle (standard input by default).
    public init(rawPCM16 handle: FileHandle = .standardInput, sampleRate: Int = AudioLoader.sampleRate) {
        self.handle = handle
        decoder = nil
        name = "<stdin>"
        self.sampleRate = sampleRate
    }

    private var pending = Data()

    /// Up to `count` next samples; empty at the end of the stream.
    public func read(_ count: Int) -> [Float] {
        if let decoder {
            guard failure == nil else { return [] }
            do { return try decoder.read(count) } catch { failure = error; return [] }
        }
        guard let handle else { return [] }
        let want = count * bytesPerSample
        while pending.count < want {
            let chunk = handle.readData(ofLength: want - pending.count)
            if chunk.isEmpty { break }
            pending.append(chunk)
        }
        let usable = (min(pending.count, want) / bytesPerSample) * bytesPerSample
        let bytes = pending.prefix(usable)
        pending = Data(pending.dropFirst(usable))
        return bytes.withUnsafeBytes { raw in
            raw.bindMemory(to: Int16.self).map { Float(Int16(littleEndian: $0)) / 32768 }
        }
    }

    private var delivered = 0

    /// `read` for callers that consume the whole stream: at its end, a file libav could not decode, or one
    /// without a single sample, is an error naming the file.
    public func readChecked(_ count: Int) throws -> [Float] {
        let samples = read(count)
        delivered += samples.count
        if samples.isEmpty && delivered == 0 { throw failure ?? EmovoxError("no audio samples", file: name) }
        return samples
    }

    /// Calls `body(startSample, window, validSamples)` for windows of `window` samples every `hop` samples.
    /// A final partial window is zero-padded and emitted when it holds new audio and is at least half full,
    /// so the tail of a recording is covered without a window of mostly silence.
    public func windows(window: Int, hop: Int, _ body: (_ start: Int, _ samples: [Float], _ valid: Int) throws -> Void) throws {
        precondition(window > 0 && hop > 0)
        var buffer = read(window)
        var start = 0, emitted = 0
        while !buffer.isEmpty {
            let valid = buffer.count
            guard start == 0 || (valid > window - hop && 2 * valid >= window) else { break }
            try body(start, valid < window ? buffer + [Float](repeating: 0, count: window - valid) : buffer, valid)
            emitted += 1
            if valid < window { break }
            buffer = Array(buffer.dropFirst(hop)) + read(hop)
            start += hop
        }
        if emitted == 0, let failure { throw failure }
        if emitted == 0 { throw EmovoxError("no audio samples", file: name) }
    }
}
