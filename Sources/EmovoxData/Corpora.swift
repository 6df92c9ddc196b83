import Foundation
import EmovoxCore
import EmovoxUtilities

/// Canonical emotion names and the mapping from corpus codes and teacher vocabularies onto them.
public enum Emotion {
    /// Synonyms → canonical (FER2013 style) names.
    static let synonyms: [String: String] = [
        "angry": "angry", "anger": "angry", "ang": "angry", "w": "angry",
        "happy": "happy", "happiness": "happy", "hap": "happy", "exc": "happy", "excited": "happy", "joy": "happy", "f": "happy",
        "sad": "sad", "sadness": "sad", "t": "sad",
        "fear": "fear", "fearful": "fear", "fea": "fear", "a": "fear",
        "disgust": "disgust", "disgusted": "disgust", "dis": "disgust", "e": "disgust",
        "surprise": "surprise", "surprised": "surprise", "sur": "surprise",
        "neutral": "neutral", "neu": "neutral", "n": "neutral",
        "calm": "calm", "contempt": "contempt", "boredom": "boredom", "l": "boredom",
    ]

    public static func canonical(_ label: String) -> String {
        let k = label.trimmingCharacters(in: .whitespaces).lowercased()
        return synonyms[k] ?? k
    }

    /// Index of `label` in a teacher's class list, matching through canonical names. `calm` counts as
    /// neutral by default when the classes have no calm (RAVDESS against FER classes).
    public static func index(of label: String, in classes: [String], calmAsNeutral: Bool = true) -> Int? {
        let c = canonical(label)
        let canon = classes.map(canonical)
        if let i = canon.firstIndex(of: c) { return i }
        if calmAsNeutral && c == "calm" { return canon.firstIndex(of: "neutral") }
        return nil
    }
}

public enum CorpusFormat: String, CaseIterable {
    case auto, voxceleb, ravdess, cremad, emodb, iemocap, csv, manifest
    /// A tree of videos whose own soundtracks are the speech (`CorpusReader.videoFolder`).
    case video
}

/// Who speaks in each video of a video folder corpus.
public enum SpeakerRule: Equatable, CustomStringConvertible {
    /// The parent folder (its path under the root); videos directly in the root fall back to `file`.
    case dir
    /// Every video its own speaker (its id).
    case file
    /// The first capture group of a regular expression on the path under the root, e.g. `^([^_]+)_`.
    case pattern(String)

    /// `dir`, `file`, or a regular expression with a capture group.
    public init(_ text: String) throws {
        switch text {
        case "dir": self = .dir
        case "file": self = .file
        default:
            let re: NSRegularExpression
            do { re = try NSRegularExpression(pattern: text) } catch { throw EmovoxError("speaker rule: not dir, file or a regular expression: \(text)") }
            guard re.numberOfCaptureGroups >= 1 else { throw EmovoxError("speaker rule: the regular expression needs a capture group (…) for the speaker: \(text)") }
            self = .pattern(text)
        }
    }

    public var description: String {
        switch self { case .dir: "dir"; case .file: "file"; case .pattern(let p): p }
    }
}

/// Builds manifests from corpus layouts on disk.
public enum CorpusReader {
    static let audioExt: Set<String> = ["wav", "flac", "mp3", "m4a", "ogg", "aac"]
    static let videoExt: Set<String> = ["mp4", "flv", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "wmv", "ts", "3gp"]

    public static func read(_ root: String, format: CorpusFormat = .auto) throws -> Manifest {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir) else { throw EmovoxError("no such file or folder", file: root) }
        let fmt = format == .auto ? try detect(root, isDirectory: isDir.boolValue) : format
        let m: Manifest
        switch fmt {
        case .manifest: m = try Manifest.read(root)
        case .csv: m = try genericCSV(root)
        case .ravdess: m = try byName(root, parse: ravdess)
        case .cremad: m = try byName(root, parse: cremad)
        case .emodb: m = try byName(root, parse: emodb)
        case .iemocap: m = try iemocap(root)
        case .voxceleb: m = try voxceleb(root)
        case .video: m = try videoFolder(root).manifest
        case .auto: fatalError("unreachable")
        }
        guard !m.clips.isEmpty else { throw EmovoxError("no clips found (format \(fmt.rawValue))", file: root) }
        return m
    }

    /// The layout `read` would recognise at `root` (never `.auto`).
    public static func format(of root: String) throws -> CorpusFormat {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir) else { throw EmovoxError("no such file or folder", file: root) }
        return try detect(root, isDirectory: isDir.boolValue)
    }

    static func detect(_ root: String, isDirectory: Bool) throws -> CorpusFormat {
        if !isDirectory {
            if root.hasSuffix(".jsonl") { return .manifest }
            if root.hasSuffix(".csv") {
                let head = (try? String(contentsOfFile: root, encoding: .utf8))?.split(separator: "\n").first.map(String.init)?.lowercased() ?? ""
                return head.contains("audio") && head.contains("id") ? .manifest : .csv
            }
            throw EmovoxError("cannot tell the corpus format of a file; use a folder, .csv or .jsonl", file: root)
        }
        let paths = try walk(root), exts = Set(paths.map { ($0 as NSString).pathExtension.lowercased() })
        // Videos and no separate audio: the videos' own soundtracks are the speech (RAVDESS/CREMA-D names still give labels).
        if !exts.isDisjoint(with: videoExt) && exts.isDisjoint(with: audioExt) { return .video }
        let files = paths.map { ($0 as NSString).lastPathComponent }
        if files.contains(where: { ravdess($0) != nil }) { return .ravdess }
        if files.contains(where: { cremad($0) != nil }) { return .cremad }
        if FileManager.default.fileExists(atPath: root + "/Session1") { return .iemocap }
        if files.contains(where: { emodb($0) != nil }) { return .emodb }
        if try walk(root).contains(where: { $0.contains("/id") }) { return .voxceleb }
        if !exts.isDisjoint(with: videoExt) { return .video }  // videos among unrelated audio files
        throw EmovoxError("cannot recognise the corpus layout; give its format (\(CorpusFormat.allCases.map(\.rawValue).joined(separator: ", ")))", file: root)
    }

    static func walk(_ root: String) throws -> [String] {
        guard let e = FileManager.default.enumerator(atPath: root) else { throw EmovoxError("cannot list the folder", file: root) }
        return e.compactMap { $0 as? String }.sorted().map { (root as NSString).appendingPathComponent($0) }
    }

    public struct Parsed { public var speaker: String; public var label: String?; public var extra: [String: String] = [:] }

    /// `03-01-EE-II-SS-RR-AA.wav`: emotion 01..08 = neutral, calm, happy, sad, angry, fearful, disgust, surprised.
    public static func ravdess(_ name: String) -> Parsed? {
        let stem = (name as NSString).deletingPathExtension
        let p = stem.split(separator: "-").compactMap { Int($0) }
        guard p.count == 7, stem.split(separator: "-").allSatisfy({ $0.count == 2 }), (1...8).contains(p[2]) else { return nil }
        let names = ["neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise"]
        return Parsed(speaker: String(format: "actor%02d", p[6]), label: names[p[2] - 1],
                      extra: ["intensity": p[3] == 2 ? "strong" : "normal", "statement": String(p[4]), "gender": p[6] % 2 == 1 ? "male" : "female"])
    }

    /// `1001_DFA_ANG_XX`: speaker, sentence, emotion, level.
    public static func cremad(_ name: String) -> Parsed? {
        let p = (name as NSString).deletingPathExtension.split(separator: "_").map(String.init)
        guard p.count == 4, p[0].count == 4, Int(p[0]) != nil, ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"].contains(p[2]) else { return nil }
        return Parsed(speaker: p[0], label: Emotion.canonical(p[2]), extra: ["sentence": p[1], "level": p[3]])
    }

    /// `03a01Fa.wav`: speaker (2 digits), text code, emotion letter (German initials), version.
    public static func emodb(_ name: String) -> Parsed? {
        let s = Array((name as NSString).deletingPathExtension)
        guard s.count == 7, Int(String(s[0...1])) != nil, let e = ["W": "angry", "L": "boredom", "E": "disgust", "A": "fear",
                                                                    "F": "happy", "T": "sad", "N": "neutral"][String(s[5])] else { return nil }
        return Parsed(speaker: String(s[0...1]), label: e)
    }

    /// MEAD-style `M003_level_1_happy_024`: speaker, intensity level, emotion, take.
    public static func mead(_ name: String) -> Parsed? {
        let p = (name as NSString).deletingPathExtension.split(separator: "_").map(String.init)
        let emotions = ["angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised"]
        guard p.count == 5, p[0].count == 4, "MW".contains(p[0].first!), Int(p[0].dropFirst()) != nil, p[1].lowercased() == "level",
              Int(p[2]) != nil, emotions.contains(p[3].lowercased()) else { return nil }
        return Parsed(speaker: p[0], label: Emotion.canonical(p[3]), extra: ["level": p[2], "take": p[4]])
    }

    /// What `videoFolder` found: the clips, the videos it could not name a speaker for, and notes for the user.
    public struct VideoFolder {
        public var manifest: Manifest
        public var skipped: [(path: String, reason: String)] = []
        public var notes: [String] = []
    }

    /// A tree of videos (any container libav reads) whose soundtracks are the speech: audio = video = the file,
    /// id = the path under the root without extension. The speaker is that of a known naming scheme (RAVDESS
    /// `01-01-EE-…`, CREMA-D `1001_DFA_ANG_XX`, MEAD-style `M003_level_1_happy_024`, which also give the label), else
    /// the `idXXXXX` of VoxCeleb2's `idXXXXX/<video>/00001.mp4`, else the parent folder; `rule` overrides all of
    /// these. Videos directly in the root have no parent folder that says who speaks: each is its own speaker.
    /// Whether each video has a soundtrack with sound is for the caller to check (`CorpusScan`).
    public static func videoFolder(_ root: String, speaker rule: SpeakerRule? = nil) throws -> VideoFolder {
        let base = (root as NSString).standardizingPath
        var result = VideoFolder(manifest: Manifest(clips: []))
        let regex = try rule.flatMap { r -> NSRegularExpression? in if case .pattern(let p) = r { return try NSRegularExpression(pattern: p) } else { return nil } }
        var flat = 0
        for f in try walk(base) where videoExt.contains((f as NSString).pathExtension.lowercased()) {
            let rel = String(f.dropFirst(base.count + 1)), id = (rel as NSString).deletingPathExtension
            let parts = rel.split(separator: "/").map(String.init), name = parts.last!
            let scheme = ravdess(name).map { p -> Parsed in
                var p = p
                let modality = ["01": "audio-video", "02": "video-only", "03": "audio-only"][String(name.prefix(2))]
                if let modality { p.extra["modality"] = modality }
                return p
            } ?? cremad(name) ?? mead(name)
            let parent = parts.count > 1 ? parts.dropLast().joined(separator: "/") : nil
            if parent == nil { flat += 1 }
            let speakerFolder = parts.count >= 3 ? parts[parts.count - 3] : ""  // VoxCeleb2: idXXXXX/<video>/00001.mp4
            let voxceleb2 = speakerFolder.hasPrefix("id") && Int(speakerFolder.dropFirst(2)) != nil ? speakerFolder : nil
            let who: String
            switch rule {
            case nil: who = scheme?.speaker ?? voxceleb2 ?? parent ?? id
            case .dir?: who = parent ?? id
            case .file?: who = id
            case .pattern?:
                guard let m = regex!.firstMatch(in: rel, range: NSRange(rel.startIndex..., in: rel)), let r = Range(m.range(at: 1), in: rel), !r.isEmpty else {
                    result.skipped.append((f, "the --speaker pattern \(rule!) does not match \(rel)")); continue
                }
                who = String(rel[r])
            }
            result.manifest.clips.append(Clip(id: id, speaker: who, audio: f, video: f, label: scheme?.label,
                                              extra: scheme.flatMap { $0.extra.isEmpty ? nil : $0.extra }))
        }
        let unnamed = rule == nil ? result.manifest.clips.filter { $0.speaker == $0.id }.count : 0
        if flat > 0 && (rule == .dir || unnamed > 0) {
            result.notes.append("\(rule == .dir ? flat : unnamed) video(s) lie directly in \(root): no parent folder says who speaks, so each is its own "
                                + "speaker (speaker-independent splits then cannot keep a person out of training; use --speaker REGEX if the names say who speaks)")
        }
        return result
    }

    static func byName(_ root: String, parse: (String) -> Parsed?) throws -> Manifest {
        var clips: [Clip] = []
        var videos: [String: String] = [:]
        let files = try walk(root)
        for f in files where videoExt.contains((f as NSString).pathExtension.lowercased()) {
            videos[((f as NSString).lastPathComponent as NSString).deletingPathExtension] = f
        }
        var seen = Set<String>()
        for f in files {
            let ext = (f as NSString).pathExtension.lowercased()
            guard audioExt.contains(ext) || videoExt.contains(ext), let p = parse((f as NSString).lastPathComponent) else { continue }
            let id = ((f as NSString).lastPathComponent as NSString).deletingPathExtension
            if seen.contains(id) { continue }  // audio preferred; a same-named video becomes the face source
            let audio = audioExt.contains(ext) ? f : (files.first { ($0 as NSString).deletingPathExtension.hasSuffix("/" + id) && audioExt.contains(($0 as NSString).pathExtension.lowercased()) } ?? f)
            seen.insert(id)
            clips.append(Clip(id: id, speaker: p.speaker, audio: audio, video: videos[id], label: p.label, extra: p.extra.isEmpty ? nil : p.extra))
        }
        return Manifest(clips: clips)
    }

    /// Generic CSV `file,speaker,emotion` (extra columns ignored, paths relative to the CSV).
    static func genericCSV(_ path: String) throws -> Manifest {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw EmovoxError("cannot read", file: path) }
        let rows = CSV.parse(text)
        guard let header = rows.first?.map({ $0.lowercased().trimmingCharacters(in: .whitespaces) }),
              let fi = header.firstIndex(of: "file"), let si = header.firstIndex(of: "speaker"), let ei = header.firstIndex(of: "emotion") else {
            throw EmovoxError("needs columns file,speaker,emotion", file: path)
        }
        let base = (path as NSString).deletingLastPathComponent
        var clips: [Clip] = []
        for (i, r) in rows.dropFirst().enumerated() where r.count > max(fi, si, ei) {
            let f = r[fi].hasPrefix("/") ? r[fi] : (base as NSString).appendingPathComponent(r[fi])
            guard !r[fi].isEmpty else { throw EmovoxError("line \(i + 2): empty file name", file: path) }
            clips.append(Clip(id: (r[fi] as NSString).deletingPathExtension, speaker: r[si], audio: f, label: Emotion.canonical(r[ei])))
        }
        return Manifest(clips: clips)
    }

    /// IEMOCAP release: Session{1..5}/sentences/wav/<dialog>/<utt>.wav, labels from dialog/EmoEvaluation/*.txt.
    /// The usual four classes: neutral, happy (+excited), sad, angry; speaker = session + gender.
    static func iemocap(_ root: String) throws -> Manifest {
        var clips: [Clip] = []
        for s in 1...5 {
            let session = "\(root)/Session\(s)"
            guard FileManager.default.fileExists(atPath: session) else { continue }
            var labels: [String: String] = [:]
            for f in (try? walk(session + "/dialog/EmoEvaluation")) ?? [] where f.hasSuffix(".txt") {
                for line in (try? String(contentsOfFile: f, encoding: .utf8))?.split(separator: "\n") ?? [] where line.hasPrefix("[") {
                    let cols = line.split(separator: "\t")
                    if cols.count >= 3 { labels[String(cols[1])] = String(cols[2]) }
                }
            }
            for f in try walk(session + "/sentences/wav") where f.hasSuffix(".wav") {
                let utt = ((f as NSString).lastPathComponent as NSString).deletingPathExtension
                guard let raw = labels[utt], ["neu", "hap", "exc", "sad", "ang"].contains(raw) else { continue }
                // Ses01F_impro01_M001: the speaker's gender leads the last field (the dialog's lead is in Ses01F).
                let gender = utt.split(separator: "_").last.map { String($0.prefix(1)) } ?? "?"
                clips.append(Clip(id: utt, speaker: "Ses0\(s)\(gender)", audio: f, label: Emotion.canonical(raw), extra: ["session": "Session\(s)"]))
            }
        }
        return Manifest(clips: clips)
    }

    /// VoxCeleb1 tree: ROOT/idXXXXX/<video-id>/00001.wav, with a video (00001.mp4 …), a face-crop folder
    /// (00001/) or a face-track file (00001.txt) beside it, or under a parallel tree given as `video/` or `txt/`.
    static func voxceleb(_ root: String) throws -> Manifest {
        var clips: [Clip] = []
        let files = try walk(root)
        let set = Set(files)
        for f in files where audioExt.contains((f as NSString).pathExtension.lowercased()) {
            let parts = f.split(separator: "/").map(String.init)
            guard let k = parts.lastIndex(where: { $0.hasPrefix("id") }), k + 2 < parts.count else { continue }
            let speaker = parts[k], stem = (f as NSString).deletingPathExtension
            let id = "\(speaker)/\(parts[k + 1])/\((stem as NSString).lastPathComponent)"
            let video = videoExt.map { "\(stem).\($0)" }.first { set.contains($0) }
            var faces: String? = nil
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: stem, isDirectory: &isDir), isDir.boolValue { faces = stem }
            else if set.contains(stem + ".txt") { faces = stem + ".txt" }
            clips.append(Clip(id: id, speaker: speaker, audio: f, video: video, faces: faces))
        }
        return Manifest(clips: clips)
    }
}
