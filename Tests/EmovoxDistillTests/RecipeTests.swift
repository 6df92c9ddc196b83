import XCTest
import EmovoxCore
import EmovoxAudio
@testable import EmovoxDistill

final class RecipeTests: XCTestCase {
    func testRecipesAreFoundByNameAndUnknownNamesListTheKnownOnes() throws {
        XCTAssertEqual(try Recipe.named("demo"), Recipe.demo)
        XCTAssertEqual(try Recipe.named("paper").model, "vggm")
        XCTAssertThrowsError(try Recipe.named("fast")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("'fast'") && text.contains("demo") && text.contains("paper"), text)
        }
        XCTAssertEqual(Set(Recipe.all.map(\.name)).count, Recipe.all.count, "recipe names must be unique")
    }

    func testApplyWritesTheRecipeAndLeavesTheRestOfTheConfig() {
        var cfg = DistillationConfig()
        cfg.seed = 7; cfg.momentum = 0.8; cfg.temperature = 3
        Recipe.demo.apply(to: &cfg)
        XCTAssertEqual(cfg.model, "vggm-small"); XCTAssertEqual(cfg.epochs, 24); XCTAssertEqual(cfg.batchSize, 32)
        XCTAssertEqual(cfg.learningRateStart, 1e-2); XCTAssertEqual(cfg.learningRateEnd, 1e-3)
        XCTAssertEqual(cfg.augmentation?.randomPlacement, true)
        XCTAssertEqual(cfg.augmentation?.speed, 0.9...1.1)
        XCTAssertEqual(cfg.augmentation?.timeMasks, 2); XCTAssertEqual(cfg.augmentation?.frequencyMasks, 2)
        XCTAssertEqual(cfg.seed, 7); XCTAssertEqual(cfg.momentum, 0.8); XCTAssertEqual(cfg.temperature, 3)
        // The paper's recipe is the trainer's own paper schedule on the full VGG-M, without augmentation.
        Recipe.paper.apply(to: &cfg)
        XCTAssertNil(cfg.augmentation)
        XCTAssertEqual(cfg.learningRateStart, DistillationConfig().learningRateStart)
        XCTAssertEqual(cfg.learningRateEnd, DistillationConfig().learningRateEnd)
        XCTAssertEqual(cfg.batchSize, DistillationConfig().batchSize)
        XCTAssertEqual(cfg.model, "vggm")
    }
}
