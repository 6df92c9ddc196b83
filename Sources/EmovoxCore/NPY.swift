import Foundation
import EmovoxUtilities

/// NumPy .npy (format v1.0) for float32 arrays: results users open with `numpy.load`.
public enum NPY {
    public static func encode(_ t: Tensor) -> Data {
        let shapeText = t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let len = UInt16(header.utf8.count)
        d.append(contentsOf: [UInt8(len & 0xff), UInt8(len >> 8)])
        d.append(contentsOf: Array(header.utf8))
        t.data.withUnsafeBytes { d.append(contentsOf: $0) }  // little-endian hosts only (x86_64, arm64)
        return d
    }

    public static func write(_ t: Tensor, to path: String) throws {
        try AtomicFile.write(encode(t), to: path)
    }

    /// Reads little-endian float32 or float64 C-order arrays (v1/v2/v3 headers).
    public static func read(_ path: String) throws -> Tensor {
        guard let d = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read file", file: path) }
        return try decode(d, name: path)
    }

    public static func decode(_ d: Data, name: String = "<npy>") throws -> Tensor {
        let b = [UInt8](d)
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
            throw EmovoxError("not a .npy file (bad magic)", file: name)
        }
        let major = b[6]
        let hlen: Int, hstart: Int
        if major == 1 { hlen = Int(b[8]) | Int(b[9]) << 8; hstart = 10 } else {
            guard b.count >= 12 else { throw EmovoxError("truncated .npy header", file: name) }
            hlen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; hstart = 12
        }
        guard b.count >= hstart + hlen else { throw EmovoxError("truncated .npy header", file: name) }
        let header = String(decoding: b[hstart..<(hstart + hlen)], as: UTF8.self)
        guard let descr = field(header, "descr"), let shapeText = field(header, "shape") else {
            throw EmovoxError("unreadable .npy header: \(header)", file: name)
        }
        if header.contains("'fortran_order': True") { throw EmovoxError("Fortran-order .npy is not supported", file: name) }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = dims.compactMap { Int($0) }
        let payload = b[(hstart + hlen)...]
        guard shapeText.hasPrefix("("), shape.count == dims.count, let n = Tensor.elementCount(shape), n <= payload.count else {
            throw EmovoxError("bad .npy shape \(shapeText) for \(payload.count) data bytes", file: name)
        }
        var values = [Float](repeating: 0, count: n)
        switch descr {
        case "<f4":
            guard payload.count >= 4 * n else { throw EmovoxError("truncated .npy data: \(payload.count) bytes for \(n) float32", file: name) }
            values.withUnsafeMutableBytes { dst in payload.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<(4 * n)])) } }
        case "<f8":
            guard payload.count >= 8 * n else { throw EmovoxError("truncated .npy data: \(payload.count) bytes for \(n) float64", file: name) }
            var doubles = [Double](repeating: 0, count: n)
            doubles.withUnsafeMutableBytes { dst in payload.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<(8 * n)])) } }
            values = doubles.map(Float.init)
        default:
            throw EmovoxError("unsupported .npy dtype \(descr) (need <f4 or <f8)", file: name)
        }
        return Tensor(shape: shape, data: values)
    }

    private static func field(_ header: String, _ key: String) -> String? {
        guard let r = header.range(of: "'\(key)':") else { return nil }
        let rest = header[r.upperBound...].drop(while: { $0 == " " })
        if rest.first == "(" { return rest.firstIndex(of: ")").map { String(rest[...$0]) } }
        if rest.first == "'" { return String(rest.dropFirst().prefix(while: { $0 != "'" })) }
        return String(rest.prefix(while: { $0 != "," }))
    }
}
