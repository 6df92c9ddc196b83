import Foundation
import EmovoxCore
import EmovoxUtilities

/// RIFF/WAVE reading in Swift: PCM 8 (unsigned), 16, 24, 32-bit integer, 32/64-bit IEEE float,
/// WAVE_FORMAT_EXTENSIBLE, any channel count (mixed to mono by the mean). Samples come back in [-1, 1].
public enum WAVReader {
    public struct Format: Equatable {
        public var sampleRate: Int
        public var channels: Int
        public var bitsPerSample: Int
        public var isFloat: Bool
    }

    public static func read(_ path: String) throws -> (samples: [Float], format: Format) {
        let r = try readChecked(path)
        return (r.samples, r.format)
    }

    /// Samples, format, and what is wrong with the file without making it unreadable (cut short, odd sizes).
    public static func readChecked(_ path: String) throws -> (samples: [Float], format: Format, warnings: [String]) {
        guard FileManager.default.fileExists(atPath: path) else { throw EmovoxError("no such file", file: path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read the file", file: path) }
        return try decodeChecked(data, name: path)
    }

    /// Where the samples lie, what the header promised, and how much is really there.
    public struct Layout {
        public var format: Format
        public var dataStart: Int
        /// Bytes of sample data present in the file (never more than the header declares).
        public var dataBytes: Int
        /// The data chunk's declared size, nil for streaming writers' 0 / 0xFFFFFFFF placeholders.
        public var declaredBytes: Int?
        public var frameBytes: Int { format.bitsPerSample / 8 * format.channels }

        /// Honest notes on a readable file: a data chunk cut short, or a size that is not whole frames.
        public var warnings: [String] {
            var w: [String] = []
            let rate = Double(format.sampleRate * frameBytes)
            if let declared = declaredBytes, declared > dataBytes {
                w.append(String(format: "the data chunk is shorter than its header says (%d of %d bytes): the file is cut short, %.2f s of %.2f s are read",
                                dataBytes, declared, Double(dataBytes) / rate, Double(declared) / rate))
            }
            if dataBytes % frameBytes != 0 {
                w.append("the data size (\(dataBytes) bytes) is not a whole number of \(frameBytes)-byte frames (\(format.channels) × \(format.bitsPerSample) bit): the last partial frame is dropped")
            }
            return w
        }
    }

    /// Parses the header only: the format and where the sample data lies.
    public static func header(_ b: [UInt8], name: String) throws -> (format: Format, dataStart: Int, dataBytes: Int) {
        let l = try layout(b, name: name)
        return (l.format, l.dataStart, l.dataBytes)
    }

    public static func layout(_ b: [UInt8], name: String) throws -> Layout {
        guard !b.isEmpty else { throw EmovoxError("empty file", file: name) }
        guard b.count >= 12, Array(b[0..<4]) == Array("RIFF".utf8), Array(b[8..<12]) == Array("WAVE".utf8) else {
            throw EmovoxError("not a WAV file (no RIFF/WAVE header)", file: name)
        }
        func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        var pos = 12
        var format: Format?
        while pos + 8 <= b.count {
            let id = String(decoding: b[pos..<(pos + 4)], as: UTF8.self), size = u32(pos + 4)
            let body = pos + 8
            if id == "fmt " {
                guard size >= 16, body + 16 <= b.count else { throw EmovoxError("truncated fmt chunk", file: name) }
                var tag = u16(body)
                if tag == 0xFFFE {  // WAVE_FORMAT_EXTENSIBLE: the real tag leads the sub-format GUID
                    guard size >= 40, body + 26 <= b.count else { throw EmovoxError("truncated extensible fmt chunk", file: name) }
                    tag = u16(body + 24)
                }
                guard tag == 1 || tag == 3 else { throw EmovoxError("unsupported WAV encoding (format tag \(tag)); only PCM and IEEE float are read natively", file: name) }
                format = Format(sampleRate: u32(body + 4), channels: u16(body + 2), bitsPerSample: u16(body + 14), isFloat: tag == 3)
            } else if id == "data" {
                guard let f = format else { throw EmovoxError("data chunk before fmt chunk", file: name) }
                guard f.channels > 0 else { throw EmovoxError("the header declares 0 channels", file: name) }
                guard f.sampleRate > 0 else { throw EmovoxError("the header declares a sample rate of 0 Hz", file: name) }
                guard [8, 16, 24, 32].contains(f.bitsPerSample) && !f.isFloat || [32, 64].contains(f.bitsPerSample) && f.isFloat else {
                    throw EmovoxError("unsupported sample format: \(f.bitsPerSample)-bit \(f.isFloat ? "float" : "integer")", file: name)
                }
                // A streaming writer may leave the size as 0 or 0xFFFFFFFF: take what is there.
                let available = b.count - body
                let streaming = size == 0 || size == 0xFFFF_FFFF
                let l = Layout(format: f, dataStart: body, dataBytes: streaming ? available : min(size, available), declaredBytes: streaming ? nil : size)
                if l.dataBytes < l.frameBytes {
                    throw EmovoxError(streaming || size <= available ? "no audio samples (the data chunk holds \(l.dataBytes) bytes)"
                                                                     : "truncated data chunk (\(available) of \(size) bytes)", file: name)
                }
                return l
            }
            pos = body + size + (size & 1)  // chunks are padded to even sizes
        }
        throw EmovoxError(format == nil ? "no fmt chunk" : "no data chunk (truncated file?)", file: name)
    }

    /// Checks a WAV file from its header and size alone (no samples read): what `corpus scan` does per clip
    /// so a million-clip corpus is vetted in one pass of small reads. Returns the warnings; throws when unreadable.
    public static func inspect(_ path: String) throws -> [String] {
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw EmovoxError(FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file", file: path)
        }
        defer { try? h.close() }
        let size = Int(h.seekToEndOfFile())
        h.seek(toFileOffset: 0)
        let head = [UInt8](h.readData(ofLength: 1 << 16))
        // Long metadata chunks can push the data chunk past the first 64 KiB: then the header needs the whole file.
        guard var l = try? layout(head, name: path) else { return try readChecked(path).warnings }
        if head.count < size {  // the data chunk goes on past what was read: measure it from the file size
            let available = size - l.dataStart
            l.dataBytes = l.declaredBytes.map { min($0, available) } ?? available
        }
        return l.warnings
    }

    public static func decode(_ data: Data, name: String = "<wav>") throws -> (samples: [Float], format: Format) {
        let r = try decodeChecked(data, name: name)
        return (r.samples, r.format)
    }

    public static func decodeChecked(_ data: Data, name: String = "<wav>") throws -> (samples: [Float], format: Format, warnings: [String]) {
        let b = [UInt8](data)
        let l = try layout(b, name: name)
        let f = l.format, start = l.dataStart
        let width = f.bitsPerSample / 8, frame = l.frameBytes
        let frames = l.dataBytes / frame
        var out = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(f.channels)
        b.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            for i in 0..<frames {
                var acc: Float = 0
                for c in 0..<f.channels {
                    let p = base + i * frame + c * width
                    acc += sample(p, width: width, isFloat: f.isFloat)
                }
                out[i] = acc * scale
            }
        }
        guard out.allSatisfy({ $0.isFinite }) else { throw EmovoxError("audio contains NaN or infinite samples", file: name) }
        return (out, f, l.warnings)
    }

    @inline(__always)
    static func sample(_ p: UnsafeRawPointer, width: Int, isFloat: Bool) -> Float {
        switch (width, isFloat) {
        case (1, false): return (Float(p.load(as: UInt8.self)) - 128) / 128
        case (2, false): return Float(Int16(littleEndian: p.loadUnaligned(as: Int16.self))) / 32768
        case (3, false):
            let v = Int32(p.load(fromByteOffset: 0, as: UInt8.self)) | Int32(p.load(fromByteOffset: 1, as: UInt8.self)) << 8
                | Int32(Int8(bitPattern: p.load(fromByteOffset: 2, as: UInt8.self))) << 16
            return Float(v) / 8_388_608
        case (4, false): return Float(Double(Int32(littleEndian: p.loadUnaligned(as: Int32.self))) / 2_147_483_648)
        case (4, true): return p.loadUnaligned(as: Float.self)
        default: return Float(p.loadUnaligned(as: Double.self))
        }
    }

    /// 16-bit PCM mono WAV bytes (for tests, synthetic media and exported clips).
    public static func encode16(_ samples: [Float], sampleRate: Int) -> Data {
        var d = Data()
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
        d.append(contentsOf: Array("RIFF".utf8)); u32(36 + 2 * samples.count); d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(1); u32(sampleRate); u32(2 * sampleRate); u16(2); u16(16)
        d.append(contentsOf: Array("data".utf8)); u32(2 * samples.count)
        for s in samples { withUnsafeBytes(of: Int16(max(-32768, min(32767, (s * 32768).rounded()))).littleEndian) { d.append(contentsOf: $0) } }
        return d
    }
}

/// Loads any audio (or a video's audio track) as 16 kHz mono float samples.
public enum AudioLoader {
    public static let sampleRate = 16_000

    /// Where per-file audio warnings go by default; batch jobs pass their own sink to report them per file.
    public static let printWarning: (_ file: String, _ message: String) -> Void = { file, message in
        FileHandle.standardError.write(Data("warning: \(file): \(message)\n".utf8))
    }

    /// Shorter than one 25 ms analysis frame: nothing a spectrogram or the student can use.
    public static let minimumSamples = 400

    /// A WAV already at the target rate is read natively; everything else (other rates, mp3, flac, m4a,
    /// ogg, a video's soundtrack) is decoded and resampled in-process by FFmpeg's libraries (`AudioDecoder`), whose
    /// resampler is band-limited. `start`/`end` (seconds) read only that part of the media, seeking to it.
    /// Problems that leave the file readable (cut short, odd sizes, silence, a range past the end) go to `warn` as
    /// "file: what"; near-empty audio is an error.
    public static func load(_ path: String, start: Double? = nil, end: Double? = nil, sampleRate: Int = AudioLoader.sampleRate,
                            warn: (_ file: String, _ message: String) -> Void = AudioLoader.printWarning) throws -> [Float] {
        var all: [Float] = []
        try forEachChunk(path, start: start, end: end, sampleRate: sampleRate, warn: warn) { all += $0 }
        return all
    }

    /// `load` in chunks of at most `chunk` samples (a natively read WAV comes as one), for media too long to hold:
    /// the same samples, checks and warnings. Returns the number of samples.
    @discardableResult
    public static func forEachChunk(_ path: String, start: Double? = nil, end: Double? = nil, sampleRate: Int = AudioLoader.sampleRate,
                                    chunk: Int = 1 << 16, warn: (_ file: String, _ message: String) -> Void = AudioLoader.printWarning,
                                    _ body: ([Float]) throws -> Void) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { throw EmovoxError("no such file", file: path) }
        var nativeError: Error? = nil, native: [Float]? = nil, level = LevelCheck()
        let whole = start == nil && end == nil
        if whole && path.lowercased().hasSuffix(".wav") {
            guard let d = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read the file", file: path) }
            if d.isEmpty { throw EmovoxError("empty file", file: path) }
            // A WAV we cannot parse natively might still be a valid odd encoding: let libav try, but a
            // file that is not RIFF at all gets a clear message.
            if d.count < 12 || d.prefix(4) != Data("RIFF".utf8) { throw EmovoxError("not a WAV file (no RIFF/WAVE header)", file: path) }
            do {
                let (s, f, notes) = try WAVReader.decodeChecked(d, name: path)
                for n in notes { warn(path, n) }
                if f.sampleRate == sampleRate { native = s }
            } catch { nativeError = error }
        }
        if let s = native {
            try level.add(s, name: path)
            try level.finish(sampleRate: sampleRate, name: path, warn: warn)
            try body(s)
            return s.count
        }
        do {
            let decoder = try AudioDecoder(path, sampleRate: sampleRate, start: start, end: end)
            while case let s = try decoder.read(chunk), !s.isEmpty {
                try level.add(s, name: path)
                try body(s)
            }
            if level.count == 0 {
                throw EmovoxError(whole ? "no audio samples could be decoded"
                                        : String(format: "no audio in the clip's range %.2f–%@ s", start ?? 0, end.map { String(format: "%.2f", $0) } ?? "end"),
                                  file: path)
            }
            if let want = decoder.expectedSamples, want - level.count > sampleRate / 10 {
                warn(path, String(format: "the clip's end (%.2f s) lies past the end of the audio: %.2f s of %.2f s are read",
                                  end!, Double(level.count) / Double(sampleRate), Double(want) / Double(sampleRate)))
            }
        } catch { throw level.count == 0 ? nativeError ?? error : error }  // our own reading of a WAV says more than libav's
        try level.finish(sampleRate: sampleRate, name: path, warn: warn)
        return level.count
    }

    /// Refuses NaN and near-empty audio; warns about silence (it gives the student nothing to go on).
    public static func check(_ samples: [Float], sampleRate: Int, name: String, warn: (_ file: String, _ message: String) -> Void) throws -> [Float] {
        var level = LevelCheck()
        try level.add(samples, name: name)
        try level.finish(sampleRate: sampleRate, name: name, warn: warn)
        return samples
    }

    /// The checks of `check`, over audio that arrives in chunks.
    struct LevelCheck {
        var count = 0
        var peak: Float = 0

        mutating func add(_ samples: [Float], name: String) throws {
            guard samples.allSatisfy({ $0.isFinite }) else { throw EmovoxError("audio contains NaN or infinite samples", file: name) }
            count += samples.count
            peak = samples.reduce(peak) { max($0, abs($1)) }
        }

        func finish(sampleRate: Int, name: String, warn: (_ file: String, _ message: String) -> Void) throws {
            let ms = Double(count) * 1000 / Double(sampleRate)
            guard count * AudioLoader.sampleRate >= minimumSamples * sampleRate else {
                throw EmovoxError(String(format: "near-empty audio: %d samples (%.1f ms), less than one 25 ms analysis frame", count, ms), file: name)
            }
            if peak == 0 {
                warn(name, "silent: every sample is zero (\(String(format: "%.2f", ms / 1000)) s)")
            } else if peak < MediaProbe.silencePeak {
                warn(name, "near-silent: peak level \(String(format: "%.0f", 20 * log10(Double(peak)))) dBFS over \(String(format: "%.2f", ms / 1000)) s")
            }
        }
    }

    /// Duration in seconds from the container, without decoding.
    public static func duration(_ path: String) throws -> Double {
        guard let d = try MediaProbe.info(path).duration else { throw EmovoxError("cannot read the duration", file: path) }
        return d
    }
}
