import XCTest
import Foundation
import EmovoxLabelling

/// `scripts/install.sh` and an installed copy run from /tmp with a clean environment: it finds its teacher in the
/// XDG data folder (or $EMOVOX_HOME), and with neither it fails listing every place it looked.
final class InstallIntegrationTests: XCTestCase {
    struct Outcome { var status: Int32; var stdout: String; var stderr: String }

    func run(_ exe: String, _ args: [String], env: [String: String], in dir: String) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Outcome(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func testInstalledCopyFindsItsTeacherFromTmp() throws {
        let root = CLIIntegrationTests.root
        guard FileManager.default.isExecutableFile(atPath: root + "/.build/release/emovox") else {
            throw XCTSkip("no built CLI at \(root)/.build/release/emovox: run `swift build -c release` first")
        }
        guard TeacherHome.holdsTeacher(root + "/.cache/teacher") else { throw XCTSkip("no teacher files in \(root)/.cache/teacher: run scripts/setup.sh") }
        let d = "/tmp/emovox-install-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d + "/home", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        let path = "/usr/local/bin:/usr/bin:/bin"

        let install = try run("/bin/bash", [root + "/scripts/install.sh", "--no-build", d + "/prefix"],
                              env: ["PATH": path, "HOME": d + "/home", "XDG_DATA_HOME": d + "/xdg"], in: root)
        XCTAssertEqual(install.status, 0, install.stdout + install.stderr)
        let exe = d + "/prefix/bin/emovox"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: exe))
        XCTAssertTrue(TeacherHome.holdsTeacher(d + "/xdg/emovox/teacher"))

        // One FER+ face, scored as a crop by fer's model: the teacher files must come from the XDG folder.
        let face = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmovoxTeacherTrainingTests/Fixtures/ferplus/FER2013Test/fer0000038.png").path
        let args = ["teacher", "--crops", face, "--teacher", "fer", "--out", d + "/scores.csv"]
        let found = try run(exe, args, env: ["PATH": path, "HOME": d + "/home", "XDG_DATA_HOME": d + "/xdg"], in: "/tmp")
        XCTAssertEqual(found.status, 0, found.stderr)
        let rows = try String(contentsOfFile: d + "/scores.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 2, "a header and the one face")

        // $EMOVOX_HOME/teacher alone is enough (HOME holds nothing).
        try FileManager.default.moveItem(atPath: d + "/xdg/emovox", toPath: d + "/emovox-home")
        let viaHome = try run(exe, args, env: ["PATH": path, "HOME": d + "/home", "EMOVOX_HOME": d + "/emovox-home"], in: "/tmp")
        XCTAssertEqual(viaHome.status, 0, viaHome.stderr)

        // Nowhere: the error names each place it looked.
        let missing = try run(exe, args, env: ["PATH": path, "HOME": d + "/home"], in: "/tmp")
        XCTAssertNotEqual(missing.status, 0)
        for place in [d + "/home/.local/share/emovox/teacher", d + "/prefix/bin/.cache/teacher", d + "/prefix/.cache/teacher", "/tmp/.cache/teacher"] {
            XCTAssertTrue(missing.stderr.contains(place), "\(place) not in: \(missing.stderr)")
        }
    }
}
