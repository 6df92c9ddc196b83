import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxModels

/// Which face teacher a command uses. `fer` is fer's FER2013 mini-Xception (Keras import, 7 classes); a path is
/// a checkpoint from `teacher-train` (or any emovox face-teacher safetensors). With neither, the FER+ teacher
/// that setup installed is the default (it sees contempt, and reads sad/fear/disgust better), else fer's.
public enum TeacherChoice {
    public static let fer = "fer"
    /// Where setup installs a trained FER+ teacher, inside the teacher folder.
    public static let installedFile = "ferplus-teacher.safetensors"
    public static let environmentVariable = "EMOVOX_FERPLUS_TEACHER"

    /// The default FER+ teacher: $EMOVOX_FERPLUS_TEACHER (a path; empty or "fer" turns the default off), else
    /// `<teacherDir>/ferplus-teacher.safetensors` when it exists.
    public static func installedFERPlusTeacher(teacherDir: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let env = environment[environmentVariable] {
            if env.isEmpty || env == fer { return nil }
            guard FileManager.default.fileExists(atPath: env) else {
                throw EmovoxError("\(environmentVariable) names a FER+ teacher that does not exist (unset it, or set it to 'fer' for fer's model)", file: env)
            }
            return env
        }
        guard let dir = teacherDir else { return nil }
        let path = dir + "/" + installedFile
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The spec a command resolves to: the explicit one, else the installed FER+ teacher, else `fer`.
    public static func resolve(_ spec: String?, teacherDir: String?) throws -> String {
        if let spec { return spec }
        return try installedFERPlusTeacher(teacherDir: teacherDir) ?? fer
    }

    /// Loads `spec` ("fer" or a checkpoint path); fer's model comes from `teacherDir`.
    public static func load(_ spec: String, teacherDir: String, labels: [String]? = nil) throws -> FaceTeacher {
        if spec == fer { return try FaceTeacher.load(hdf5: teacherDir + "/emotion_model.hdf5", labels: labels) }
        guard FileManager.default.fileExists(atPath: spec) else {
            throw EmovoxError("no such face-teacher checkpoint (pass a teacher-train teacher.safetensors, or 'fer' for fer's FER2013 model)", file: spec)
        }
        let t = try TrainedFaceTeacher.faceTeacher(spec)
        if let labels, labels != t.labels {
            throw EmovoxError("class names do not apply to a trained teacher: its classes (\(t.labels.joined(separator: ","))) are in the checkpoint", file: spec)
        }
        return t
    }

    /// A short description for logs and reports.
    public static func describe(_ spec: String, teacher: FaceTeacher) -> String {
        spec == fer ? "fer (FER2013 mini-Xception, \(teacher.labels.count) classes)"
                    : "\((spec as NSString).lastPathComponent) (\(teacher.labels.count) classes: \(teacher.labels.joined(separator: ", ")))"
    }
}
