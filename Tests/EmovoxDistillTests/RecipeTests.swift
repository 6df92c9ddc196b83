import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
@testable import EmovoxDistill

final class RecipeTests: XCTestCase {
    func testRecipesAreFoundByNameAndUnknownNamesListTheKnownOnes() throws {
        XCTAssertEqual(try Recipe.named("demo"), Recipe.demo)
        XCTAssertEqual(try Recipe.named("paper").config.model, .vggm)
        XCTAssertThrowsError(try Recipe.named("fast")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("'fast'") && text.contains("demo") && text.contains("paper"), text)
        }
        XCTAssertEqual(Set(Recipe.names).count, Recipe.all.count, "recipe names must be unique")
    }

    /// A recipe is a name and a whole DistillationConfig: its choices are set, everything else is the config's default.
    func testRecipesAreTheDefaultsWithTheirChoices() {
        let defaults = DistillationConfig()
        let demo = Recipe.demo.config
        XCTAssertEqual(demo.model, .vggmSmall); XCTAssertEqual(demo.epochs, 24); XCTAssertEqual(demo.batchSize, 32)
        XCTAssertEqual(demo.learningRateStart, 1e-2); XCTAssertEqual(demo.learningRateEnd, 1e-3)
        XCTAssertEqual(demo.augmentation?.randomPlacement, true)
        XCTAssertEqual(demo.augmentation?.speed, 0.9...1.1)
        XCTAssertEqual(demo.augmentation?.timeMasks, 2); XCTAssertEqual(demo.augmentation?.frequencyMasks, 2)
        XCTAssertEqual(demo.seed, defaults.seed); XCTAssertEqual(demo.momentum, defaults.momentum); XCTAssertEqual(demo.temperature, defaults.temperature)
        XCTAssertEqual(demo.weightDecay, defaults.weightDecay); XCTAssertEqual(demo.cropSamples, defaults.cropSamples)
        // The paper's recipe is the trainer's own defaults on the full VGG-M, without augmentation.
        var paper = defaults
        paper.model = .vggm
        XCTAssertEqual(Recipe.paper.config, paper)
        XCTAssertNil(Recipe.demoBefore.config.augmentation)
        XCTAssertEqual(Recipe.demoBefore.config.epochs, 12)
    }

    /// Recipes (and so their configs) survive JSON, as they are recorded beside runs; the model is stored by name.
    func testRecipeRoundTripsThroughJSON() throws {
        for r in Recipe.all {
            let data = try CanonicalJSON.encoder().encode(r)
            XCTAssertEqual(try JSONDecoder().decode(Recipe.self, from: data), r, r.name)
        }
        let text = try CanonicalJSON.string(Recipe.demo)
        XCTAssertTrue(text.contains("\"model\":\"vggm-small\""), text)
        XCTAssertTrue(text.contains("\"name\":\"demo\""), text)
        XCTAssertEqual("\(Recipe.demo.config.model)", "vggm-small", "printed as on the command line")
        // A config written by an older emovox (model as a plain string) still decodes.
        let old = #"{"model":"vggm","epochs":3,"batchSize":4,"learningRateStart":0.1,"learningRateEnd":0.01,"momentum":0.9,"weightDecay":0.0005,"temperature":2,"cropSamples":64384,"sampleRate":16000,"classBalanced":false,"seed":1}"#
        let cfg = try JSONDecoder().decode(DistillationConfig.self, from: Data(old.utf8))
        XCTAssertEqual(cfg.model, .vggm); XCTAssertNil(cfg.augmentation)
        XCTAssertThrowsError(try JSONDecoder().decode(DistillationConfig.self, from: Data(old.replacingOccurrences(of: "\"vggm\"", with: "\"resnet\"").utf8)))
    }
}
