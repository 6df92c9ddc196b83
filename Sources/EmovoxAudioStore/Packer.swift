import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData

/// `emovox corpus pack`: decodes every clip once (WAV natively, anything else in-process by libav; only its
/// [start, end) part when the manifest gives one) to 16 kHz mono int16 and appends it to the store's data files. Resumable: a restart skips clips already in this packer's index and
/// cuts data a crash left behind the last indexed clip. With `--shard i/n` clip k of the manifest belongs to shard
/// k mod n (as for `label`), each shard writes its own files in the same folder, and `merge` joins the indexes.
public enum AudioStorePacker {
    public struct Report {
        public var packed = 0
        public var alreadyPacked = 0
        public var skipped: [(id: String, reason: String)] = []
    }

    public static func pack(_ manifest: Manifest, to store: String, shard: (index: Int, count: Int)? = nil,
                            maxFileBytes: Int = 1 << 30, sampleRate: Int = AudioLoader.sampleRate, showProgress: Bool = true) throws -> Report {
        let fm = FileManager.default
        try fm.createDirectory(atPath: store, withIntermediateDirectories: true)
        let part = AudioStoreFormat.partName(shard: shard)
        let indexPath = store + "/" + AudioStoreFormat.partIndexName(part)
        var report = Report()

        // 1. What this packer already did: indexed clips, and where each of its data files ends.
        var packed = Set<String>(), fileEnds: [String: Int] = [:], kept = Data(AudioStoreFormat.header.utf8)
        let dataFiles = ((try? fm.contentsOfDirectory(atPath: store)) ?? []).filter { $0.hasPrefix("data-\(part)-") && $0.hasSuffix(".s16") }.sorted()
        let sizes = Dictionary(uniqueKeysWithValues: dataFiles.map { ($0, ((try? fm.attributesOfItem(atPath: store + "/" + $0))?[.size] as? Int) ?? 0) })
        if let old = fm.contents(atPath: indexPath) {
            _ = try AudioStoreFormat.parse(old, name: indexPath) { r in
                // A record whose samples never reached the disk is dropped and its clip packed again.
                guard r.end <= sizes[r.file] ?? -1, !packed.contains(r.id) else { return }
                packed.insert(r.id)
                fileEnds[r.file] = max(fileEnds[r.file] ?? 0, r.end)
                kept.append(Data(r.line.utf8))
            }
        }
        try AtomicFile.write(kept, to: indexPath)  // the index without its torn tail
        // Bytes after the last indexed clip belong to an interrupted append: cut them.
        for f in dataFiles where sizes[f]! != (fileEnds[f] ?? 0) {
            guard truncate(store + "/" + f, off_t(fileEnds[f] ?? 0)) == 0 else { throw EmovoxError("cannot truncate the torn tail", file: store + "/" + f) }
        }

        // 2. Append the rest.
        let mine = manifest.clips.enumerated().filter { shard == nil || $0.offset % shard!.count == shard!.index }.map(\.element)
        report.alreadyPacked = mine.filter { packed.contains($0.id) }.count
        let todo = mine.filter { !packed.contains($0.id) }
        var fileNumber = max(dataFiles.count - 1, 0)
        var fileName = AudioStoreFormat.dataName(part, fileNumber)
        var fileSize = fileEnds[fileName] ?? 0
        func open(_ name: String) throws -> FileHandle {
            let p = store + "/" + name
            if !fm.fileExists(atPath: p) { fm.createFile(atPath: p, contents: nil) }
            guard let h = FileHandle(forWritingAtPath: p) else { throw EmovoxError("cannot open for writing", file: p) }
            h.seekToEndOfFile()
            return h
        }
        var data = try open(fileName)
        guard let index = FileHandle(forWritingAtPath: indexPath) else { throw EmovoxError("cannot open for appending", file: indexPath) }
        index.seekToEndOfFile()
        defer { try? data.close(); try? index.close() }
        let progress = showProgress ? ProgressBar("pack", total: todo.count) : nil
        for (k, clip) in todo.enumerated() {
            progress?.update(k + 1, clip.id)
            guard !clip.id.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" }) else {
                report.skipped.append((clip.id, "the clip id contains a tab or newline")); continue
            }
            // A new data file when this clip would take the current one past its limit (the clip's length estimated
            // from its range or its container, so a long recording is never held whole).
            if fileSize > 0 && fileSize + 2 * estimatedSamples(clip, sampleRate: sampleRate) > maxFileBytes {
                try data.synchronize(); try data.close()
                fileNumber += 1; fileName = AudioStoreFormat.dataName(part, fileNumber); fileSize = 0
                data = try open(fileName)
            }
            // Samples first, streamed chunk by chunk, then the index line: an interruption leaves at worst unindexed
            // bytes, cut on resume; a clip that fails half-way is cut here.
            var written = 0
            do {
                try AudioLoader.forEachChunk(clip.audio, start: clip.start, end: clip.end, sampleRate: sampleRate) { chunk in
                    let bytes = int16Bytes(chunk)
                    data.write(bytes)
                    written += bytes.count
                }
            } catch {
                if written > 0 { try data.truncate(atOffset: UInt64(fileSize)); data.seekToEndOfFile() }
                report.skipped.append((clip.id, "\(error)")); continue
            }
            index.write(Data(AudioStoreFormat.Record(id: clip.id, file: fileName, offset: fileSize, samples: written / 2, rate: sampleRate).line.utf8))
            fileSize += written
            report.packed += 1
            if report.packed % 256 == 0 { try data.synchronize(); try index.synchronize() }
        }
        try data.synchronize(); try index.synchronize()

        var skippedText = ""
        for s in report.skipped { skippedText += "\(s.id)\t\(s.reason.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " "))\n" }
        try AtomicFile.write(skippedText, to: store + "/" + AudioStoreFormat.skippedName(part))
        if shard == nil { _ = try merge(store) }
        return report
    }

    /// The clip's length in samples as far as it is known without decoding: its range; for a whole WAV its size (exact
    /// for 16-bit mono at the store's rate, the usual case, without opening it); else its container's duration.
    static func estimatedSamples(_ clip: Clip, sampleRate: Int) -> Int {
        if let d = clip.duration { return Int(d * Double(sampleRate)) }
        if clip.start == nil && clip.audio.lowercased().hasSuffix(".wav"),
           let bytes = (try? FileManager.default.attributesOfItem(atPath: clip.audio))?[.size] as? Int { return max(bytes - 44, 0) / 2 }
        let seconds = (try? AudioLoader.duration(clip.audio)).map { $0 - (clip.start ?? 0) } ?? 0
        return Int(max(seconds, 0) * Double(sampleRate))
    }

    /// 16-bit little-endian PCM, rounded as the WAV writer rounds: a 16-bit WAV comes back bit for bit.
    static func int16Bytes(_ samples: [Float]) -> Data {
        var d = Data(count: 2 * samples.count)
        d.withUnsafeMutableBytes { raw in
            let p = raw.bindMemory(to: Int16.self)
            for i in samples.indices { p[i] = Int16(max(-32768, min(32767, (samples[i] * 32768).rounded()))).littleEndian }
        }
        return d
    }

    /// Joins every packer's index in `store` (index-*.tsv, in name order, the first record of a clip wins) into
    /// index.tsv, checking that each record lies inside its data file. Returns the number of clips.
    @discardableResult
    public static func merge(_ store: String) throws -> Int {
        let fm = FileManager.default
        let parts = ((try? fm.contentsOfDirectory(atPath: store)) ?? []).filter { $0.hasPrefix("index-") && $0.hasSuffix(".tsv") }.sorted()
        guard !parts.isEmpty else { throw EmovoxError("no shard indexes (index-*.tsv) to merge; pack first", file: store) }
        var seen = Set<String>(), sizes: [String: Int] = [:], out = Data(AudioStoreFormat.header.utf8)
        for p in parts {
            let path = store + "/" + p
            guard let d = fm.contents(atPath: path) else { throw EmovoxError("cannot read", file: path) }
            if try AudioStoreFormat.parse(d, name: path, { r in
                if sizes[r.file] == nil { sizes[r.file] = ((try? fm.attributesOfItem(atPath: store + "/" + r.file))?[.size] as? Int) ?? -1 }
                guard r.end <= sizes[r.file]! else {
                    throw EmovoxError("clip \(r.id) lies past the end of \(r.file); re-run that shard's `corpus pack`", file: path)
                }
                if seen.insert(r.id).inserted { out.append(Data(r.line.utf8)) }
            }).tornTail {
                throw EmovoxError("ends in a torn line (an interrupted pack): re-run that shard's `corpus pack` first", file: path)
            }
        }
        try AtomicFile.write(out, to: store + "/" + AudioStoreFormat.indexName)
        return seen.count
    }
}
