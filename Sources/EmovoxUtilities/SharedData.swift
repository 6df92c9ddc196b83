import Foundation

/// Finds the project's read-only `shared/` folder (real corpora, teacher files) without hard-coding paths:
/// `$EMOVOX_SHARED`, else a `shared/` beside any parent of `start` (a source file or the working directory).
public enum SharedData {
    public static func root(from start: String = FileManager.default.currentDirectoryPath) -> String? {
        if let env = ProcessInfo.processInfo.environment["EMOVOX_SHARED"], !env.isEmpty,
           FileManager.default.fileExists(atPath: env) { return env }
        var url = URL(fileURLWithPath: start)
        for _ in 0..<8 {
            let candidate = url.appendingPathComponent("shared")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("README.md").path) {
                return candidate.path
            }
            url.deleteLastPathComponent()
        }
        return nil
    }

    /// A path inside shared/, or nil when shared/ or that file is absent.
    public static func path(_ relative: String, from start: String = FileManager.default.currentDirectoryPath) -> String? {
        guard let r = root(from: start) else { return nil }
        let p = (r as NSString).appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }
}
