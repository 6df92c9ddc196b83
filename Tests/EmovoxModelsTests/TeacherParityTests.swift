import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxModels

/// Reads binary PGM (P5, maxval 255): enough for the shared reference crops.
func readPGM(_ path: String) throws -> (width: Int, height: Int, pixels: [UInt8]) {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var fields: [String] = [], i = 0
    while fields.count < 4 {
        while i < bytes.count, bytes[i] == 0x23 || [0x20, 0x0a, 0x0d, 0x09].contains(bytes[i]) {
            if bytes[i] == 0x23 { while i < bytes.count, bytes[i] != 0x0a { i += 1 } } else { i += 1 }
        }
        var tok = ""
        while i < bytes.count, ![0x20, 0x0a, 0x0d, 0x09].contains(bytes[i]) { tok.append(Character(UnicodeScalar(bytes[i]))); i += 1 }
        fields.append(tok)
    }
    let (w, h) = (Int(fields[1])!, Int(fields[2])!)
    return (w, h, Array(bytes[(i + 1)..<(i + 1 + w * h)]))
}

final class TeacherParityTests: XCTestCase {
    func sharedTeacher() throws -> String {
        guard let dir = SharedData.path("teacher", from: #filePath) else {
            throw XCTSkip("needs ../shared/teacher (the fer mini-Xception and reference crops); absent on this checkout")
        }
        return dir
    }

    /// The flat-blob teacher reproduces the float reference probabilities on real face crops to 1e-4.
    func testManifestTeacherMatchesGoldenOutputs() throws {
        let dir = try sharedTeacher()
        let teacher = try FaceTeacher.loadManifest(json: dir + "/mini_xception_fer2013.json", blob: dir + "/mini_xception_fer2013.f32")
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/face_crops_64/golden_teacher_outputs.json"))) as! [String: Any]
        let items = golden["items"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(items.count, 10)
        let crops = try items.map { item -> [Float] in
            let pgm = try readPGM(dir + "/" + (item["crop"] as! String))
            XCTAssertEqual(pgm.width, 64)
            return FaceTeacher.preprocess(pgm.pixels)
        }
        let probs = Softmax.probabilities(teacher.logits(crops))
        var worst: Float = 0
        for (n, item) in items.enumerated() {
            let expected = item["probs"] as! [String: Double]
            for (c, label) in teacher.labels.enumerated() {
                worst = max(worst, abs(probs.data[n * 7 + c] - Float(expected[label]!)))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-4, "max |p - golden| = \(worst)")
    }
}
