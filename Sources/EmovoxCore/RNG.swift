import Foundation

/// One seeded generator (xoshiro256**, seeded by SplitMix64) is threaded through weight init,
/// shuffling, dropout and crops, so the same seed gives the same weights and the same loss curve.
public struct SeededRNG: RandomNumberGenerator, Codable, Sendable {
    public private(set) var state: [UInt64]

    public init(seed: UInt64) {
        var s = seed
        func splitmix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = [splitmix(), splitmix(), splitmix(), splitmix()]
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / Double(1 << 53)), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n.
    public mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }

    /// An independent stream for one sample of one epoch: a sample's crop, dither and augmentation come out the
    /// same whichever thread, prefetch worker or MPI rank prepares it.
    public init(seed: UInt64, epoch: Int, position: Int) {
        func mix(_ x: UInt64) -> UInt64 {  // SplitMix64's finaliser
            var z = x &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        self.init(seed: mix(mix(mix(seed) ^ UInt64(bitPattern: Int64(epoch))) ^ UInt64(bitPattern: Int64(position))))
    }

    /// A stable 64-bit key for a string (FNV-1a; Swift's own hashes change per process), to seed a stream per
    /// clip or per class name.
    public static func stableKey(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// A child generator for an independent stream (e.g. per data-loader worker).
    public mutating func split() -> SeededRNG { SeededRNG(seed: next()) }
}
