import ArgumentParser
import EmovoxCore

struct Emovox: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Emotion recognition in speech by cross-modal distillation from a face teacher.")
}
Emovox.main()
