import Foundation
import EmovoxCore
import EmovoxUtilities

/// EmoBox's fold lists (Ma et al., *EmoBox: Multilingual Multi-corpus Speech Emotion Recognition Toolkit and
/// Benchmark*, Interspeech 2024). Per dataset, EmoBox ships
///
///     data/<dataset>/fold_<k>/<dataset>_train_fold_<k>.jsonl
///     data/<dataset>/fold_<k>/<dataset>_test_fold_<k>.jsonl
///     data/<dataset>/label_map.json          (optional: corpus label → EmoBox label)
///
/// with one JSON object per line: `key` (clip id), `dataset`, `wav` (path relative to EmoBox's root, e.g.
/// `downloads/ravdess/audio/…/03-01-07-02-02-02-11.wav`), `emo` (label), and `length`, `sample_rate`,
/// `channel`, `type`, `task`. Any file named `*train*.jsonl` / `*test*.jsonl` in a `fold_<k>` folder is read.
public struct EmoBoxFold {
    public var index: Int
    public var train: [Clip]
    public var test: [Clip]
}

public enum EmoBox {
    /// The folds under `dir` (a dataset folder holding `fold_<k>/`). `wav` paths are resolved against
    /// `audioRoot` (default: `dir`); a path that does not exist there is looked up by file name anywhere
    /// under `audioRoot`, so lists made for EmoBox's `downloads/` tree work with a corpus stored elsewhere.
    public static func folds(_ dir: String, audioRoot: String? = nil) throws -> [EmoBoxFold] {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: dir) else { throw EmovoxError("cannot list the EmoBox folder", file: dir) }
        let foldDirs = entries.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("fold_"), let k = Int(name.dropFirst(5)) else { return nil }
            return (k, (dir as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
        guard !foldDirs.isEmpty else {
            throw EmovoxError("no fold_<k>/ folders (EmoBox layout: <dataset>/fold_<k>/<dataset>_train_fold_<k>.jsonl and …_test_fold_<k>.jsonl)", file: dir)
        }
        let root = audioRoot ?? dir
        let labelMap = try readLabelMap((dir as NSString).appendingPathComponent("label_map.json"))
        var byName: [String: String]? = nil  // file name → path under root, built on first miss
        func resolve(_ wav: String, source: String) throws -> String {
            if wav.hasPrefix("/"), fm.fileExists(atPath: wav) { return wav }
            let direct = (root as NSString).appendingPathComponent(wav)
            if fm.fileExists(atPath: direct) { return direct }
            if byName == nil {
                var index: [String: String] = [:]
                for p in (fm.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []) {
                    index[(p as NSString).lastPathComponent] = (root as NSString).appendingPathComponent(p)
                }
                byName = index
            }
            guard let found = byName![(wav as NSString).lastPathComponent] else {
                throw EmovoxError("audio '\(wav)' is neither under \(root) nor found there by file name (give the audio root)", file: source)
            }
            return found
        }
        func read(_ path: String) throws -> [Clip] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw EmovoxError("cannot read the fold list", file: path) }
            var clips: [Clip] = []
            for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() where !line.allSatisfy(\.isWhitespace) {
                guard let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                      let wav = obj["wav"] as? String, let emo = obj["emo"] as? String else {
                    throw EmovoxError("line \(i + 1) is not an EmoBox record (needs \"wav\" and \"emo\")", file: path)
                }
                let key = obj["key"] as? String ?? ((wav as NSString).lastPathComponent as NSString).deletingPathExtension
                let label = Emotion.canonical(labelMap[emo] ?? emo)
                clips.append(Clip(id: key, speaker: obj["speaker"] as? String ?? "", audio: try resolve(wav, source: path), label: label,
                                  extra: (obj["dataset"] as? String).map { ["dataset": $0] }))
            }
            return clips
        }
        return try foldDirs.map { k, path in
            let files = (try? fm.contentsOfDirectory(atPath: path)) ?? []
            func one(_ role: String) throws -> String {
                let matches = files.filter { $0.hasSuffix(".jsonl") && $0.contains(role) }.sorted()
                guard matches.count == 1 else {
                    throw EmovoxError("fold_\(k) needs exactly one *\(role)*.jsonl (found \(matches.isEmpty ? "none" : matches.joined(separator: ", ")))", file: path)
                }
                return (path as NSString).appendingPathComponent(matches[0])
            }
            let train = try read(one("train")), test = try read(one("test"))
            guard !train.isEmpty, !test.isEmpty else { throw EmovoxError("fold_\(k) has an empty train or test list", file: path) }
            return EmoBoxFold(index: k, train: train, test: test)
        }
    }

    static func readLabelMap(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        guard let map = (try? JSONSerialization.jsonObject(with: data)) as? [String: String] else {
            throw EmovoxError("label_map.json must be an object of label → label strings", file: path)
        }
        return map
    }
}

/// Label mapping between corpora, `--map a=b,c=d`: labels are compared by canonical name; unmapped
/// labels stay as they are, and mapping onto `-` drops the clip (e.g. `calm=-`).
public struct LabelMap: Equatable {
    public var pairs: [String: String]

    public init(_ text: String?) throws {
        pairs = [:]
        for item in (text ?? "").split(separator: ",") where !item.isEmpty {
            let kv = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                throw EmovoxError("a label map takes from=to pairs separated by commas (e.g. calm=neutral,surprised=-), got '\(item)'")
            }
            pairs[Emotion.canonical(kv[0])] = kv[1] == "-" ? "-" : Emotion.canonical(kv[1])
        }
    }

    /// The mapped canonical label, or nil when the clip is dropped.
    public func apply(_ label: String) -> String? {
        let c = Emotion.canonical(label)
        let m = pairs[c] ?? c
        return m == "-" ? nil : m
    }
}
