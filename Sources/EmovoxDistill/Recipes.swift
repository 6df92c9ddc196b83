import EmovoxCore
import EmovoxUtilities
import EmovoxAudio

/// A named training recipe: the student, its schedule, sampling and augmentation, chosen together.
/// `demo` came out of the recipe search on RAVDESS (docs/recipe-search.md: selected on heard/unheard actors,
/// never on the probe's corpus split); `paper` is Albanie et al. 2018; `demo-before` is what the demo used
/// before the search, kept so the table can be reproduced.
public struct Recipe: Equatable, Sendable {
    public var name: String
    public var summary: String
    public var model: String
    public var epochs: Int
    public var batchSize: Int
    public var learningRateStart: Float
    public var learningRateEnd: Float
    public var classBalanced: Bool
    public var augmentation: AudioAugmentation?

    /// The CPU-sized student at 100× the paper's LR (few clips, few epochs), and augmentation that makes
    /// one short acted clip look like many: random placement, speed 0.9–1.1, noise at 10–30 dB SNR, and
    /// two time plus two frequency masks.
    public static let demo: Recipe = {
        var a = AudioAugmentation()
        a.randomPlacement = true
        a.speed = 0.9...1.1
        a.noiseSNR = 10...30
        a.timeMasks = 2; a.frequencyMasks = 2  // widths: the defaults, up to 40 frames and 30 bins
        return Recipe(name: "demo", summary: "vggm-small, 24 epochs, batch 32, LR 1e-2→1e-3, augmentation (placement, speed, noise, masks)",
                      model: "vggm-small", epochs: 24, batchSize: 32, learningRateStart: 1e-2, learningRateEnd: 1e-3,
                      classBalanced: false, augmentation: a)
    }()

    public static let demoBefore = Recipe(name: "demo-before", summary: "vggm-small, 12 epochs, batch 32, LR 3e-3→3e-4, no augmentation",
                                          model: "vggm-small", epochs: 12, batchSize: 32, learningRateStart: 3e-3, learningRateEnd: 3e-4,
                                          classBalanced: false, augmentation: nil)

    /// The paper's: full VGG-M, batch 64, log-linear 1e-4→1e-5 (their epoch count was set by VoxCeleb's size;
    /// 20 passes over a small corpus).
    public static let paper = Recipe(name: "paper", summary: "vggm, 20 epochs, batch 64, LR 1e-4→1e-5, no augmentation (Albanie et al. 2018)",
                                     model: "vggm", epochs: 20, batchSize: 64, learningRateStart: 1e-4, learningRateEnd: 1e-5,
                                     classBalanced: false, augmentation: nil)

    public static let all = [demo, demoBefore, paper]

    public static func named(_ name: String) throws -> Recipe {
        guard let r = all.first(where: { $0.name == name }) else {
            throw EmovoxError("unknown recipe '\(name)' (known: \(all.map(\.name).joined(separator: ", ")))")
        }
        return r
    }

    /// The recipe's choices written into a training config (momentum, weight decay, temperature, seed untouched).
    public func apply(to config: inout DistillationConfig) {
        config.model = model; config.epochs = epochs; config.batchSize = batchSize
        config.learningRateStart = learningRateStart; config.learningRateEnd = learningRateEnd
        config.classBalanced = classBalanced; config.augmentation = augmentation
    }
}
