import Foundation
import EmovoxCore
import EmovoxUtilities

/// A packed audio store: every clip of a corpus decoded once to 16 kHz mono int16 and laid back to back in a
/// few large data files, with a text index. Training reads crops straight from the memory-mapped files, so a
/// corpus far larger than memory costs only its index in RAM.
///
///     STORE/index.tsv                 what readers open: one line per clip (written by pack / pack-merge)
///     STORE/index-<part>.tsv          one packer's index (part = "all", or "i-of-n" for `--shard i/n`)
///     STORE/data-<part>-00000.s16     raw little-endian int16 samples, clips back to back, no header
///     STORE/skipped-<part>.tsv        clips that could not be decoded: id <TAB> reason
///
/// Index lines (after a `#` header line): `id <TAB> data file <TAB> byte offset <TAB> samples <TAB> sample rate`.
public enum AudioStoreFormat {
    public static let header = "# emovox audio store v1\tid\tfile\toffset\tsamples\trate\n"
    public static let indexName = "index.tsv"
    public static func partIndexName(_ part: String) -> String { "index-\(part).tsv" }
    public static func dataName(_ part: String, _ number: Int) -> String { "data-\(part)-" + String(format: "%05d", number) + ".s16" }
    public static func skippedName(_ part: String) -> String { "skipped-\(part).tsv" }
    /// The part name of a packer: "all", or "i-of-n" for one shard of a job array.
    public static func partName(shard: (index: Int, count: Int)?) -> String { shard.map { "\($0.index)-of-\($0.count)" } ?? "all" }

    public struct Record: Equatable {
        public var id: String
        public var file: String
        public var offset: Int
        public var samples: Int
        public var rate: Int
        public var line: String { "\(id)\t\(file)\t\(offset)\t\(samples)\t\(rate)\n" }
        public var end: Int { offset + 2 * samples }
    }

    /// Parses index text; `tornTail` is true when the last line lacks its newline (an interrupted append) and
    /// was dropped. Any other malformed line is an error naming the line.
    public static func parse(_ data: Data, name: String, _ body: (Record) throws -> Void) throws -> (tornTail: Bool, validBytes: Int) {
        var tornTail = false, validBytes = 0
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let b = raw.bindMemory(to: UInt8.self)
            var lineStart = 0, lineNumber = 0
            while lineStart < b.count {
                lineNumber += 1
                var end = lineStart
                while end < b.count && b[end] != 10 { end += 1 }
                if end == b.count { tornTail = true; return }  // no newline: torn
                defer { lineStart = end + 1; validBytes = end + 1 }
                if end == lineStart || b[lineStart] == UInt8(ascii: "#") { continue }
                var fields: [Substring] = []
                let line = String(decoding: UnsafeBufferPointer(rebasing: b[lineStart..<end]), as: UTF8.self)
                fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count == 5, let off = Int(fields[2]), let n = Int(fields[3]), let r = Int(fields[4]), off >= 0, n > 0, r > 0, !fields[0].isEmpty else {
                    throw EmovoxError("index line \(lineNumber) is malformed (want id, file, offset, samples, rate separated by tabs)", file: name)
                }
                // Readers keep samples and rate as Int32 and map offset + 2·samples bytes: refuse what does not fit.
                guard n <= Int(Int32.max), r <= Int(Int32.max), off <= Int.max - 2 * n else {
                    throw EmovoxError("index line \(lineNumber): offset \(off), samples \(n) or rate \(r) is out of range", file: name)
                }
                guard !fields[1].isEmpty, !fields[1].contains("/") else {
                    throw EmovoxError("index line \(lineNumber): the data file '\(fields[1])' is not a file name inside the store", file: name)
                }
                try body(Record(id: String(fields[0]), file: String(fields[1]), offset: off, samples: n, rate: r))
            }
        }
        return (tornTail, validBytes)
    }
}

/// Reads a packed store: the index in compact arrays, the data files memory-mapped. Thread-safe for reading.
public final class AudioStore: @unchecked Sendable {
    public let path: String
    public private(set) var ids: [String] = []
    private var fileOf: [Int32] = [], offsetOf: [Int] = [], samplesOf: [Int32] = [], rateOf: [Int32] = []
    private var lookup: [String: Int32] = [:]
    private var files: [String] = []
    private var maps: [(base: UnsafeRawPointer?, size: Int)] = []
    private let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    public init(_ path: String) throws {
        self.path = path
        let indexPath = path + "/" + AudioStoreFormat.indexName
        guard FileManager.default.fileExists(atPath: indexPath) else {
            let parts = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasPrefix("index-") }
            throw EmovoxError(parts.isEmpty ? "not an audio store (no \(AudioStoreFormat.indexName)); make one with `emovox corpus pack`"
                                            : "the store has shard indexes (\(parts.sorted().joined(separator: ", "))) but no \(AudioStoreFormat.indexName): run `emovox corpus pack-merge \(path)`",
                              file: path)
        }
        guard let data = FileManager.default.contents(atPath: indexPath) else { throw EmovoxError("cannot read", file: indexPath) }
        var fileNumber: [String: Int32] = [:]
        let torn = try AudioStoreFormat.parse(data, name: indexPath) { r in
            guard lookup[r.id] == nil else { return }  // first record wins, as in pack-merge
            let f: Int32
            if let k = fileNumber[r.file] { f = k } else { f = Int32(files.count); fileNumber[r.file] = f; files.append(r.file) }
            lookup[r.id] = Int32(ids.count)
            ids.append(r.id); fileOf.append(f); offsetOf.append(r.offset); samplesOf.append(Int32(r.samples)); rateOf.append(Int32(r.rate))
        }.tornTail
        if torn { throw EmovoxError("the index ends in a torn line; re-run `emovox corpus pack` or `pack-merge`", file: indexPath) }
        for f in files {
            let p = path + "/" + f
            let fd = open(p, O_RDONLY)
            guard fd >= 0 else { unmapAll(); throw EmovoxError("cannot open the data file: \(String(cString: strerror(errno)))", file: p) }
            var st = stat()
            fstat(fd, &st)
            let size = Int(st.st_size)
            let base = size > 0 ? mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0) : nil
            close(fd)
            if base == MAP_FAILED { unmapAll(); throw EmovoxError("cannot memory-map the data file", file: p) }
            maps.append((base.map { UnsafeRawPointer($0) }, size))
        }
        for i in ids.indices where offsetOf[i] + 2 * Int(samplesOf[i]) > maps[Int(fileOf[i])].size {
            unmapAll()
            throw EmovoxError("clip \(ids[i]) lies past the end of \(files[Int(fileOf[i])]) (truncated data file?)", file: path)
        }
    }

    private func unmapAll() { for m in maps { if let b = m.base { munmap(UnsafeMutableRawPointer(mutating: b), m.size) } }; maps = [] }
    deinit { unmapAll() }

    public var count: Int { ids.count }
    /// The entry number of a clip id, if packed.
    public func entry(_ id: String) -> Int? { lookup[id].map(Int.init) }
    public func samples(_ entry: Int) -> Int { Int(samplesOf[entry]) }
    public func sampleRate(_ entry: Int) -> Int { Int(rateOf[entry]) }
    public func record(_ entry: Int) -> AudioStoreFormat.Record {
        AudioStoreFormat.Record(id: ids[entry], file: files[Int(fileOf[entry])], offset: offsetOf[entry], samples: samples(entry), rate: sampleRate(entry))
    }

    /// The raw int16 samples [start, start + count) of a clip (clamped to the clip).
    public func int16(_ entry: Int, from start: Int = 0, count: Int? = nil) -> [Int16] {
        let n = samples(entry), s = min(max(start, 0), n), c = min(count ?? n, n - s)
        guard c > 0, let base = maps[Int(fileOf[entry])].base else { return [] }
        let p = base + offsetOf[entry] + 2 * s
        let out = [Int16](unsafeUninitializedCapacity: c) { buf, done in
            memcpy(buf.baseAddress!, p, 2 * c)
            for i in 0..<c { buf[i] = Int16(littleEndian: buf[i]) }
            done = c
        }
        release(p, bytes: 2 * c)
        return out
    }

    /// `count` samples from `start` in [-1, 1] (int16 / 32768, as the WAV reader scales them), zeros past the clip's end.
    public func read(_ entry: Int, from start: Int, count: Int) -> [Float] {
        let n = samples(entry), s = min(max(start, 0), n), c = min(count, n - s)
        var out = [Float](repeating: 0, count: count)
        guard c > 0, let base = maps[Int(fileOf[entry])].base else { return out }
        let p = (base + offsetOf[entry] + 2 * s).assumingMemoryBound(to: UInt8.self)
        for i in 0..<c {
            out[i] = Float(Int16(bitPattern: UInt16(p[2 * i]) | UInt16(p[2 * i + 1]) << 8)) / 32768
        }
        release(UnsafeRawPointer(p), bytes: 2 * c)
        return out
    }

    /// Unmaps the pages a read touched from this process (they stay in the page cache): otherwise every page read
    /// once would count towards the resident set until the end of training, and RSS would grow with the corpus.
    private func release(_ p: UnsafeRawPointer, bytes: Int) {
        let lo = Int(bitPattern: p) & ~(pageSize - 1)
        let hi = (Int(bitPattern: p) + bytes + pageSize - 1) & ~(pageSize - 1)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, Int32(MADV_DONTNEED))
    }
}
