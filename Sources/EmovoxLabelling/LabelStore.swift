import Foundation
import EmovoxCore
import EmovoxUtilities

/// labels.jsonl: one `ClipTeacherLabels` per line. Appends whole lines and flushes after each clip,
/// so a crash loses at most the clip in progress; a torn last line is ignored on reading and
/// the clip is labelled again on resume.
public enum LabelStore {
    public static func read(_ path: String) throws -> [ClipTeacherLabels] {
        var out: [ClipTeacherLabels] = []
        try forEach(path) { out.append($0) }
        return out
    }

    /// Streams the records one at a time (1 MB reads), so a million-clip label file is never held whole.
    public static func forEach(_ path: String, _ body: (ClipTeacherLabels) throws -> Void) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        guard let h = FileHandle(forReadingAtPath: path) else { throw EmovoxError("cannot read", file: path) }
        defer { try? h.close() }
        let decoder = JSONDecoder()
        var pending = Data(), lineNumber = 0
        func decode(_ line: Data, last: Bool) throws {
            lineNumber += 1
            guard !line.isEmpty else { return }
            let record: ClipTeacherLabels
            do { record = try decoder.decode(ClipTeacherLabels.self, from: line) } catch {
                if last { return }  // only a torn final line (interrupted write) is tolerated
                throw EmovoxError("line \(lineNumber) is not a valid label record: \(error)", file: path)
            }
            try body(record)
        }
        while true {
            let chunk = h.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(chunk)
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try decode(Data(pending[start..<nl]), last: false)
                start = nl + 1
            }
            pending = Data(pending[start...])
        }
        try decode(pending, last: true)
    }

    public final class Appender {
        let handle: FileHandle
        public init(_ path: String) throws {
            if !FileManager.default.fileExists(atPath: path) {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                FileManager.default.createFile(atPath: path, contents: nil)
            }
            guard let h = FileHandle(forUpdatingAtPath: path) else { throw EmovoxError("cannot open for appending", file: path) }
            // Drop a torn last line left by an interrupted run before appending.
            let data = h.readDataToEndOfFile()
            if let last = data.lastIndex(of: UInt8(ascii: "\n")), last != data.count - 1 {
                h.truncateFile(atOffset: UInt64(last + 1))
            } else if !data.isEmpty && !data.contains(UInt8(ascii: "\n")) {
                h.truncateFile(atOffset: 0)
            }
            h.seekToEndOfFile()
            handle = h
        }
        public func append(_ record: ClipTeacherLabels) throws {
            var line = try CanonicalJSON.encoder().encode(record)  // sorted keys: same media, same bytes
            line.append(UInt8(ascii: "\n"))
            handle.write(line)
            try handle.synchronize()
        }
        deinit { try? handle.close() }
    }

    /// Joins shard files, keeping the first record per clip, in clip order of `order` when given.
    public static func merge(_ inputs: [String], to output: String) throws -> Int {
        var seen = Set<String>(), lines = Data()
        let enc = CanonicalJSON.encoder()
        for p in inputs {
            for r in try read(p) where !seen.contains(r.clip) {
                seen.insert(r.clip)
                lines.append(try enc.encode(r)); lines.append(UInt8(ascii: "\n"))
            }
        }
        try AtomicFile.write(lines, to: output)
        return seen.count
    }

    /// `--shard i/n`: clip k belongs to shard k mod n (stable for a fixed clip order).
    public static func parseShard(_ text: String) throws -> (index: Int, count: Int) {
        let parts = text.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] > 0, (0..<parts[1]).contains(parts[0]) else {
            throw EmovoxError("a shard must be i/n with 0 <= i < n, got '\(text)'")
        }
        return (parts[0], parts[1])
    }
}
