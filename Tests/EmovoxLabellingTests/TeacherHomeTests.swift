import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxLabelling

/// The one order in which every command finds the teacher files, and the error that lists where it looked.
final class TeacherHomeTests: XCTestCase {
    func testOrderIsHomeThenXDGThenTheClonesCacheThenShared() {
        let places = TeacherHome.candidates(environment: ["EMOVOX_HOME": "/h", "XDG_DATA_HOME": "/x", "HOME": "/home/u"],
                                            executable: "/clone/.build/release/emovox", workingDirectory: "/work/dir")
        XCTAssertEqual(Array(places.prefix(6)), ["/h/teacher", "/x/emovox/teacher", "/clone/.build/release/.cache/teacher",
                                                 "/clone/.build/.cache/teacher", "/clone/.cache/teacher", "/.cache/teacher"])
        XCTAssertTrue(places.contains("/work/dir/.cache/teacher") && places.contains("/work/.cache/teacher"))
        XCTAssertLessThan(places.firstIndex(of: "/clone/.cache/teacher")!, places.firstIndex(of: "/work/dir/.cache/teacher")!,
                          "the executable's clone before the working directory's")
        XCTAssertEqual(places.count, Set(places).count, "each place once")
        // Without XDG_DATA_HOME the XDG default under HOME; a relative XDG_DATA_HOME is ignored, as the spec says.
        XCTAssertEqual(TeacherHome.candidates(environment: ["HOME": "/home/u"], executable: "/b/emovox", workingDirectory: "/")[0],
                       "/home/u/.local/share/emovox/teacher")
        XCTAssertEqual(TeacherHome.dataHome(environment: ["XDG_DATA_HOME": "rel", "HOME": "/home/u"]), "/home/u/.local/share/emovox")
    }

    func testTheFirstFolderHoldingTheFilesWinsAndTheErrorListsEveryPlace() throws {
        let d = NSTemporaryDirectory() + "emovox-home-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: d) }
        let xdg = d + "/xdg/emovox/teacher", home = d + "/home/teacher"
        for dir in [xdg, home] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        for f in TeacherHome.requiredFiles { FileManager.default.createFile(atPath: xdg + "/" + f, contents: Data()) }
        FileManager.default.createFile(atPath: home + "/emotion_model.hdf5", contents: Data())  // no cascade: not a teacher folder
        let env = ["EMOVOX_HOME": d + "/home", "XDG_DATA_HOME": d + "/xdg"]
        XCTAssertEqual(TeacherHome.locate(environment: env, executable: d + "/bin/emovox", workingDirectory: d), xdg)
        FileManager.default.createFile(atPath: home + "/haarcascade_frontalface_default.xml", contents: Data())
        XCTAssertEqual(try TeacherHome.require(environment: env, executable: d + "/bin/emovox", workingDirectory: d), home)

        let empty = ["HOME": d + "/nobody"]
        guard SharedData.root(from: d) == nil else { return }  // $EMOVOX_SHARED points at a shared/teacher: found there
        XCTAssertNil(TeacherHome.locate(environment: empty, executable: d + "/bin/emovox", workingDirectory: d))
        XCTAssertThrowsError(try TeacherHome.require(environment: empty, executable: d + "/bin/emovox", workingDirectory: d)) { e in
            let text = "\(e)"
            for place in TeacherHome.candidates(environment: empty, executable: d + "/bin/emovox", workingDirectory: d) {
                XCTAssertTrue(text.contains("  " + place + "\n") || text.contains("  " + place), place)
            }
            XCTAssertTrue(text.contains(d + "/nobody/.local/share/emovox/teacher"), text)
        }
    }
}
