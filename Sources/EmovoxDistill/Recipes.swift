import EmovoxCore
import EmovoxUtilities
import EmovoxAudio

/// A named training recipe: the student, its schedule, sampling and augmentation, chosen together.
/// `demo` came out of the recipe search on RAVDESS (docs/recipe-search.md: selected on heard/unheard actors,
/// never on the probe's corpus split); `paper` is Albanie et al. 2018; `demo-before` is what the demo used
/// before the search, kept so the table can be reproduced.
public struct Recipe: Codable, Equatable, Sendable {
    public var name: String
    public var summary: String
    /// The whole training configuration; what a recipe does not choose (momentum, weight decay, temperature, crop,
    /// seed) keeps `DistillationConfig`'s defaults, the single source of them.
    public var config: DistillationConfig

    public init(name: String, summary: String, config: DistillationConfig) {
        self.name = name; self.summary = summary; self.config = config
    }

    /// A recipe from the defaults with its choices written in.
    init(name: String, summary: String, _ choose: (inout DistillationConfig) -> Void) {
        var c = DistillationConfig()
        choose(&c)
        self.init(name: name, summary: summary, config: c)
    }

    /// The CPU-sized student at 100× the paper's LR (few clips, few epochs), and augmentation that makes
    /// one short acted clip look like many: random placement, speed 0.9–1.1, noise at 10–30 dB SNR, and
    /// two time plus two frequency masks.
    public static let demo = Recipe(name: "demo", summary: "vggm-small, 24 epochs, batch 32, LR 1e-2→1e-3, augmentation (placement, speed, noise, masks)") {
        $0.model = .vggmSmall; $0.epochs = 24; $0.batchSize = 32; $0.learningRateStart = 1e-2; $0.learningRateEnd = 1e-3
        var a = AudioAugmentation()
        a.randomPlacement = true
        a.speed = 0.9...1.1
        a.noiseSNR = 10...30
        a.timeMasks = 2; a.frequencyMasks = 2  // widths: the defaults, up to 40 frames and 30 bins
        $0.augmentation = a
    }

    public static let demoBefore = Recipe(name: "demo-before", summary: "vggm-small, 12 epochs, batch 32, LR 3e-3→3e-4, no augmentation") {
        $0.model = .vggmSmall; $0.epochs = 12; $0.batchSize = 32; $0.learningRateStart = 3e-3; $0.learningRateEnd = 3e-4
    }

    /// The paper's: full VGG-M, batch 64, log-linear 1e-4→1e-5 (their epoch count was set by VoxCeleb's size;
    /// 20 passes over a small corpus) — `DistillationConfig`'s defaults on the full VGG-M.
    public static let paper = Recipe(name: "paper", summary: "vggm, 20 epochs, batch 64, LR 1e-4→1e-5, no augmentation (Albanie et al. 2018)") {
        $0.model = .vggm
    }

    public static let all = [demo, demoBefore, paper]
    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) throws -> Recipe {
        guard let r = all.first(where: { $0.name == name }) else {
            throw EmovoxError("unknown recipe '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        return r
    }
}
