import Foundation

/// How a teacher's face crops are cut from a frame: the face detector's box squared about its centre, grown on
/// each side by `marginPixels + marginFraction × side`, cut from the frame padded with its bottom-row grey,
/// then resized to the teacher's input size by area averaging. A teacher must see crops framed like the faces
/// it was trained on, so the recipe travels with the teacher (checkpoint metadata, ONNX sidecar).
public struct FaceCropRecipe: Codable, Equatable, Sendable, CustomStringConvertible {
    public var marginPixels: Int
    public var marginFraction: Double

    public init(marginPixels: Int, marginFraction: Double) {
        self.marginPixels = marginPixels; self.marginFraction = marginFraction
    }

    /// fer's rule for its FER2013 model: 10 px on each side whatever the face size.
    public static let fer = FaceCropRecipe(marginPixels: 10, marginFraction: 0)
    /// FER2013/FER+ faces are the detector's box itself: OpenCV's frontal-face cascade run on FER+ Test faces
    /// (upscaled 4×, border replicated) finds a box of median side 47 of 48 px at offset (0.5, 0.25) px, so a
    /// teacher trained on FER+ gets the squared box with no margin (docs/teacher.md, "Face crops").
    public static let ferPlus = FaceCropRecipe(marginPixels: 0, marginFraction: 0)

    /// The margin in pixels for a box whose longer side is `side`.
    public func margin(boxSide side: Int) -> Int { marginPixels + Int((marginFraction * Double(side)).rounded()) }

    public var description: String {
        switch (marginPixels, marginFraction) {
        case (0, 0): return "the face box itself (squared about its centre, no margin)"
        case (_, 0): return "the face box squared about its centre and grown by \(marginPixels) px on each side"
        default: return "the face box squared about its centre and grown by \(marginPixels) px + \(marginFraction) × its side on each side"
        }
    }
}
