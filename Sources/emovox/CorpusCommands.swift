import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxData
import EmovoxAudio
import EmovoxAudioStore
import EmovoxLabelling

extension SpeakerRule: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(argument) }
}

struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "corpus", abstract: "Build and inspect corpus manifests.",
                                                    subcommands: [Scan.self, Segment.self, Info.self, Pack.self, PackMerge.self])

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Scan a corpus folder into a manifest, optionally with identity splits.")
        @Argument(help: "Corpus folder or CSV.") var root: String
        @Option(help: "Corpus layout (auto detects it).") var format: CorpusFormat = .auto
        @Option(help: ArgumentHelp("Video folders: who speaks in each video: dir (the parent folder), file (each video its own), or a regular expression whose first group, on the path under the folder, is the speaker. Default: a naming scheme's speaker (RAVDESS, CREMA-D, MEAD), VoxCeleb2's idXXXXX, else the parent folder.", valueName: "dir|file|REGEX"))
        var speaker: SpeakerRule?
        @Option(help: "Output manifest (.jsonl or .csv).") var out: String
        @Flag(help: "Assign train/heard/unheard splits (the paper's rule).") var split = false
        @Option(help: "Held-out (unheard) speakers: a count (default 4, at most half the speakers) or a fraction, e.g. 0.2.") var unheard: String?
        @Option(help: "Fraction of each remaining speaker's clips held out as 'heard'.") var heard: Double = 0.2
        @Option(help: "Seed for the splits.") var seed: UInt64 = 0
        @Flag(help: "Cut long recordings into utterance clips (as `corpus segment`).") var segment = false
        @OptionGroup var segmenting: SegmentingOptions

        func run() throws {
            // Unreadable clips (a video without sound, a broken WAV header) are reported and left out.
            var report = BatchReport("corpus scan")
            var m = try CorpusScan.scan(root, format: format, speaker: speaker, report: &report)
            guard !m.clips.isEmpty else { try report.finish(); return }
            if segment { m = try segmenting.segment(m, report: &report) }
            if split { m = try Splitter.assign(m, unheard: try unheard.map(UnheardSpec.init) ?? .standard, heardFraction: heard, seed: seed) }
            try m.write(out)
            print(m.summary(name: out))
            try report.finish()
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Summarise a manifest: clips, speakers, labels, splits.")
        @Argument var manifest: String
        func run() throws { print(try Manifest.read(manifest).summary(name: manifest)) }
    }

    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode every clip once to 16 kHz mono int16 in large shard files plus an index (resumable; --shard for job arrays).")
        @Argument(help: "Manifest (.jsonl or .csv).") var manifest: String
        @Option(help: "Store folder (default: <manifest>.store, which `distill` then finds by itself).") var out: String?
        @Option(help: "Pack only clips k with k mod n = i (i/n); join the parts with `corpus pack-merge`.") var shard: String?
        @Option(help: "Start a new data file beyond this size (MB).") var fileMb: Int = 1024

        func run() throws {
            let store = out ?? manifest + ".store"
            let part = try shard.map { try LabelStore.parseShard($0) }
            let r = try AudioStorePacker.pack(try Manifest.read(manifest), to: store, shard: part, maxFileBytes: fileMb << 20)
            print("\(store): \(r.packed) clips packed, \(r.alreadyPacked) already there, \(r.skipped.count) skipped"
                  + (r.skipped.isEmpty ? "" : " (listed in \(store)/\(AudioStoreFormat.skippedName(AudioStoreFormat.partName(shard: part)))): "
                     + r.skipped.prefix(3).map { "\($0.id): \($0.reason)" }.joined(separator: "; ")))
            if part != nil { print("when every shard is done: emovox corpus pack-merge \(store)") }
            // The batch contract (README, "Exit status"): bad clips were skipped and listed; 3 when some were, 1 when none packed.
            var report = BatchReport("corpus pack")
            report.emit = { _ in }  // the skipped clips are listed above and in the store's skipped file
            report.succeeded(r.packed + r.alreadyPacked)
            for s in r.skipped { report.skip(s.id, s.reason) }
            try report.finish()
        }
    }

    struct PackMerge: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pack-merge",
            abstract: "Join the shard indexes of a store packed with --shard into its index.tsv.")
        @Argument(help: "Store folder.") var store: String
        func run() throws { print("\(store): \(try AudioStorePacker.merge(store)) clips in \(AudioStoreFormat.indexName)") }
    }
}
