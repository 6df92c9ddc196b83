import Foundation
import EmovoxCore
import EmovoxAudio

/// Where training reads clip audio from: memory for small corpora and tests, a packed store for large ones.
/// Implementations are safe to read from several threads (batches are prepared in the background).
public protocol ClipAudioSource: AnyObject, Sendable {
    var clipCount: Int { get }
    /// Length of clip `clip` in samples.
    func sampleCount(_ clip: Int) -> Int
    /// `count` samples from `start`, zeros past the clip's end.
    func samples(_ clip: Int, from start: Int, count: Int) -> [Float]
}

extension ClipAudioSource {
    /// A random crop of `samples` (zero-padded when the clip is shorter) and its start, as `Spectrogram.randomCrop`.
    public func randomCrop(_ clip: Int, samples: Int, rng: inout SeededRNG) -> (crop: [Float], start: Int) {
        let s = Spectrogram.randomCropStart(length: sampleCount(clip), samples: samples, rng: &rng)
        return (self.samples(clip, from: s, count: samples), s)
    }

    /// The centre `samples` of the clip (zero-padded when shorter), as `Spectrogram.centreCrop` with min = max.
    public func centreCrop(_ clip: Int, samples: Int) -> (crop: [Float], start: Int) {
        let s = Spectrogram.centreCropStart(length: sampleCount(clip), samples: samples)
        return (self.samples(clip, from: s, count: samples), s)
    }
}

public final class InMemoryClipAudio: ClipAudioSource {
    public let clips: [[Float]]
    public init(_ clips: [[Float]]) { self.clips = clips }
    public var clipCount: Int { clips.count }
    public func sampleCount(_ clip: Int) -> Int { clips[clip].count }
    public func samples(_ clip: Int, from start: Int, count: Int) -> [Float] {
        let a = clips[clip], s = min(max(start, 0), a.count), e = min(s + count, a.count)
        return Array(a[s..<e]) + [Float](repeating: 0, count: count - (e - s))
    }
}

/// Clips of a packed store, in the caller's order (entry numbers only: 4 bytes per clip).
public final class StoreClipAudio: ClipAudioSource {
    public let store: AudioStore
    let entries: [Int32]
    public init(store: AudioStore, entries: [Int]) { self.store = store; self.entries = entries.map { Int32($0) } }
    public var clipCount: Int { entries.count }
    public func sampleCount(_ clip: Int) -> Int { store.samples(Int(entries[clip])) }
    public func samples(_ clip: Int, from start: Int, count: Int) -> [Float] { store.read(Int(entries[clip]), from: start, count: count) }
}
