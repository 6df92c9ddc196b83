import Foundation
import EmovoxCore
import EmovoxUtilities

/// One clip of a corpus: speech, optionally its face media, speaker identity, optional human label, split.
public struct Clip: Codable, Equatable {
    public var id: String
    public var speaker: String
    public var audio: String
    /// A talking-face video (frames are sampled from it) or an image.
    public var video: String?
    /// A folder of pre-cropped face images, a VoxCeleb1 face-track text file, or one face-crop image.
    public var faces: String?
    /// The corpus's own (acted or annotated) emotion label, canonical name.
    public var label: String?
    public var split: String?
    /// Where the clip lies in its media, in seconds (nil: from the beginning / to the end). The utterances cut
    /// from one long recording share its file and differ only here; audio and video share this time line, and
    /// the teacher's label times are relative to `start`.
    public var start: Double?
    public var end: Double?
    public var extra: [String: String]?

    public init(id: String, speaker: String, audio: String, video: String? = nil, faces: String? = nil,
                label: String? = nil, split: String? = nil, start: Double? = nil, end: Double? = nil, extra: [String: String]? = nil) {
        self.id = id; self.speaker = speaker; self.audio = audio; self.video = video; self.faces = faces
        self.label = label; self.split = split; self.start = start; self.end = end; self.extra = extra
    }

    /// The clip's length in seconds when its end is known.
    public var duration: Double? { end.map { $0 - (start ?? 0) } }
}

/// A list of clips, stored as JSONL (one clip per line) or CSV (`id,speaker,audio,video,faces,label,split[,start,end]`).
/// Paths are stored relative to the manifest's folder when they lie under it and resolved on reading.
public struct Manifest: Equatable {
    public var clips: [Clip]
    public init(clips: [Clip]) { self.clips = clips }

    public var speakers: [String] { Array(Set(clips.map(\.speaker))).sorted() }

    public func clips(in split: String) -> [Clip] { clips.filter { $0.split == split } }

    public static func read(_ path: String) throws -> Manifest {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw EmovoxError("cannot read the manifest", file: path) }
        let base = (path as NSString).deletingLastPathComponent
        var clips: [Clip] = []
        if path.lowercased().hasSuffix(".csv") {
            let rows = CSV.parse(text)
            guard let header = rows.first else { throw EmovoxError("empty manifest", file: path) }
            let col = Dictionary(header.enumerated().map { ($1.trimmingCharacters(in: .whitespaces).lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
            for required in ["id", "speaker", "audio"] where col[required] == nil {
                throw EmovoxError("missing column '\(required)' (header: \(header.joined(separator: ",")))", file: path)
            }
            for (i, r) in rows.dropFirst().enumerated() where !(r.count == 1 && r[0].isEmpty) {
                func v(_ k: String) -> String? { col[k].flatMap { $0 < r.count ? r[$0] : nil }.flatMap { $0.isEmpty ? nil : $0 } }
                guard let id = v("id"), let sp = v("speaker"), let au = v("audio") else {
                    throw EmovoxError("line \(i + 2): id, speaker and audio are required", file: path)
                }
                func seconds(_ k: String) throws -> Double? {
                    guard let t = v(k) else { return nil }
                    guard let x = Double(t), x.isFinite, x >= 0 else { throw EmovoxError("line \(i + 2): \(k) must be a time in seconds ≥ 0, not '\(t)'", file: path) }
                    return x
                }
                clips.append(Clip(id: id, speaker: sp, audio: au, video: v("video"), faces: v("faces"), label: v("label"), split: v("split"),
                                  start: try seconds("start"), end: try seconds("end")))
            }
        } else {
            let dec = JSONDecoder()
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                do { clips.append(try dec.decode(Clip.self, from: Data(line.utf8))) } catch {
                    throw EmovoxError("line \(i + 1) is not a clip record (needs id, speaker, audio): \(error)", file: path)
                }
            }
        }
        var seen = Set<String>()
        for c in clips {
            if !seen.insert(c.id).inserted { throw EmovoxError("duplicate clip id '\(c.id)'", file: path) }
            for t in [c.start, c.end].compactMap({ $0 }) where !(t.isFinite && t >= 0) {
                throw EmovoxError("clip '\(c.id)': start and end must be times in seconds ≥ 0", file: path)
            }
            if let s = c.start, let e = c.end, e <= s { throw EmovoxError("clip '\(c.id)': end \(e) s is not after start \(s) s", file: path) }
        }
        func resolve(_ p: String?) -> String? { p.map { $0.hasPrefix("/") ? $0 : (base as NSString).appendingPathComponent($0) } }
        return Manifest(clips: clips.map { c in
            var c = c; c.audio = resolve(c.audio)!; c.video = resolve(c.video); c.faces = resolve(c.faces); return c
        })
    }

    public func write(_ path: String) throws {
        let base = URL(fileURLWithPath: (path as NSString).deletingLastPathComponent).standardizedFileURL.path
        func rel(_ p: String?) -> String? {
            guard let p else { return nil }
            let abs = URL(fileURLWithPath: p).standardizedFileURL.path
            return abs.hasPrefix(base + "/") ? String(abs.dropFirst(base.count + 1)) : abs
        }
        let stored = clips.map { c -> Clip in var c = c; c.audio = rel(c.audio)!; c.video = rel(c.video); c.faces = rel(c.faces); return c }
        if path.lowercased().hasSuffix(".csv") {
            // start/end columns only when some clip is a part of its media, so plain corpora keep the short header.
            let timed = stored.contains { $0.start != nil || $0.end != nil }
            var out = "id,speaker,audio,video,faces,label,split" + (timed ? ",start,end" : "") + "\n"
            for c in stored {
                var row = [c.id, c.speaker, c.audio, c.video ?? "", c.faces ?? "", c.label ?? "", c.split ?? ""]
                if timed { row += [c.start.map { String($0) } ?? "", c.end.map { String($0) } ?? ""] }
                out += row.map(CSV.escape).joined(separator: ",") + "\n"
            }
            try AtomicFile.write(out, to: path)
        } else {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(Data(try stored.map { String(decoding: try enc.encode($0), as: UTF8.self) }.joined(separator: "\n").utf8) + Data("\n".utf8), to: path)
        }
    }

    /// Files that are referenced but missing, as one error listing the first few.
    public func validate(source: String) throws {
        let missing = clips.flatMap { c in [c.audio, c.video, c.faces].compactMap { $0 }.filter { !FileManager.default.fileExists(atPath: $0) }.map { "\(c.id): \($0)" } }
        if !missing.isEmpty { throw EmovoxError("\(missing.count) referenced files are missing, e.g. \(missing.prefix(3).joined(separator: "; "))", file: source) }
    }
}

/// Minimal RFC 4180 CSV (quoted fields, doubled quotes, commas and newlines inside quotes).
public enum CSV {
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var it = Array(text.unicodeScalars).makeIterator()
        var pending: Unicode.Scalar? = nil
        while let ch = pending ?? it.next() {
            pending = nil
            if quoted {
                if ch == "\"" { if let n = it.next() { if n == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = n } } else { quoted = false } }
                else { field.unicodeScalars.append(ch) }
            } else if ch == "\"" { quoted = true }
            else if ch == "," { row.append(field); field = "" }
            else if ch == "\n" || ch == "\r" {
                if ch == "\r", let n = it.next(), n != "\n" { pending = n }
                row.append(field); rows.append(row); row = []; field = ""
            } else { field.unicodeScalars.append(ch) }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    public static func escape(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

extension Manifest {
    /// Clips, speakers, labels and splits in a few lines (corpus scan/info, demo).
    public func summary(name: String) -> String {
        let m = self
        var s = "\(name): \(m.clips.count) clips, \(m.speakers.count) speakers, \(m.clips.filter { $0.video != nil || $0.faces != nil }.count) with face media\n"
        let labels = Dictionary(grouping: m.clips, by: { $0.label ?? "(none)" }).mapValues(\.count)
        s += "  labels: " + labels.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        let splits = Dictionary(grouping: m.clips, by: { $0.split ?? "(none)" })
        s += "  splits: " + splits.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.count) clips / \(Set($0.value.map(\.speaker)).count) speakers" }.joined(separator: ", ")
        return s
    }
}
