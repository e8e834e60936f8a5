import Foundation

/// Times work in a loop until a time budget is spent, so fast and slow operations are
/// both measured over enough iterations.
enum Measure {
    /// Operations per second of `body(rounds)`, running it with growing round counts until
    /// `seconds` have passed.
    static func rate(seconds: Double, _ body: (Int) -> Void) -> Double {
        var rounds = 1
        var totalRounds = 0
        var elapsed = 0.0
        while elapsed < seconds {
            let start = DispatchTime.now().uptimeNanoseconds
            body(rounds)
            let spent = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            elapsed += spent
            totalRounds += rounds
            // Aim each batch at about a tenth of the budget.
            if spent < seconds / 10 { rounds *= 2 }
        }
        return Double(totalRounds) / elapsed
    }

    /// The best rate of each of two bodies, measured alternately so that both see the same
    /// machine state (frequency, other load).
    static func compare(seconds: Double, repeats: Int = 3, _ a: (Int) -> Void, _ b: (Int) -> Void) -> (Double, Double) {
        var best = (0.0, 0.0)
        for _ in 0..<repeats {
            best.0 = max(best.0, rate(seconds: seconds / Double(2 * repeats), a))
            best.1 = max(best.1, rate(seconds: seconds / Double(2 * repeats), b))
        }
        return best
    }
}
