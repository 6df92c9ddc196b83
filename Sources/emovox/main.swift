import ArgumentParser
import EmovoxCore

struct Emovox: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emovox",
        abstract: "Emotion recognition in speech by cross-modal distillation from a face teacher.",
        subcommands: [SpectrogramCommand.self, ModelCommand.self, BenchCommand.self])
}
Runtime.configureAllocator()
Emovox.main()
