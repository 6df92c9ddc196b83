import ArgumentParser
import EmovoxCore

struct Emovox: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emovox",
        abstract: "Emotion recognition in speech by cross-modal distillation from a face teacher.",
        subcommands: [DemoCommand.self, TeacherCommand.self, LabelCommand.self, LabelMergeCommand.self, CorpusCommand.self, DistillCommand.self, AnalyzeCommand.self, RocCommand.self, ProbeCommand.self, PredictCommand.self, SpectrogramCommand.self, ModelCommand.self, BenchCommand.self, TeacherTrainCommand.self, TeacherEvalCommand.self, ExportCommand.self])
}
Runtime.configureAllocator()
Emovox.main()
