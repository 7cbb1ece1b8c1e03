// Unit tests of LatencyHistogram (engine/latency_histogram.h), the log-linear microsecond histogram
// behind the broker's p50/p90/p99 metrics. Covers the empty summary, exact small values,
// percentiles within the documented 1/16 relative error (never below the true value) on known
// distributions (uniform 1..10000, a constant, a bimodal mix, powers of two), max tracking,
// negative values, merge and reset, concurrent record() from several threads, and the consistency
// of bucketOf with bucketUpperBound for every value below 2^12 and a sweep up to 2^41: a value lies
// in (upperBound(bucket - 1), upperBound(bucket)], bucket indices are monotonic and the bound of a
// value's bucket is within 1/16 of the value.
#include "latency_histogram.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

using namespace eddy;

namespace {

// The exact q-percentile of samples with summary()'s rank rule: rank = floor(q * (n - 1)) + 1
// (1-based), i.e. the "lower" interpolation-free definition.
int64_t exactPercentile(std::vector<int64_t> sorted, double q)
{
    std::sort(sorted.begin(), sorted.end());
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1)) + 1;
    return sorted[rank - 1];
}

// A reported percentile must not be below the true one and at most 1/16 above it.
bool withinError(int64_t reported, int64_t exact)
{
    if (reported < exact)
        return false;
    return static_cast<double>(reported - exact) <= static_cast<double>(exact) / 16.0 + 1e-9;
}

} // namespace

class TestUnitHistogram : public QObject
{
    Q_OBJECT

private slots:
    void emptySummary();
    void smallValuesAreExact();
    void uniformPercentiles();
    void constantDistribution();
    void bimodalPercentiles();
    void randomDistributionsWithinError();
    void maxIsExact();
    void negativeValuesCountAsZero();
    void mergeAddsCountsAndMax();
    void resetClears();
    void concurrentRecord();
    void bucketBoundsConsistentExhaustiveSmall();
    void bucketBoundsConsistentSweep();
    void bucketBoundsRelativeError();
};

void TestUnitHistogram::emptySummary()
{
    LatencyHistogram h;
    const LatencySummary s = h.summary();
    QCOMPARE(s.count, uint64_t(0));
    QCOMPARE(s.p50Us, int64_t(0));
    QCOMPARE(s.p90Us, int64_t(0));
    QCOMPARE(s.p99Us, int64_t(0));
    QCOMPARE(s.maxUs, int64_t(0));
}

void TestUnitHistogram::smallValuesAreExact()
{
    // Below 16 us there is one bucket per microsecond.
    LatencyHistogram h;
    for (int64_t v = 0; v <= 10; ++v)
        h.record(v);
    const LatencySummary s = h.summary();
    QCOMPARE(s.count, uint64_t(11));
    QCOMPARE(s.p50Us, int64_t(5));
    QCOMPARE(s.p90Us, int64_t(9));
    QCOMPARE(s.p99Us, int64_t(9)); // rank floor(0.99 * 10) + 1 = 10, the value 9
    QCOMPARE(s.maxUs, int64_t(10));
    for (int64_t v = 0; v < LatencyHistogram::kSub; ++v) {
        QCOMPARE(LatencyHistogram::bucketOf(v), static_cast<int>(v));
        QCOMPARE(LatencyHistogram::bucketUpperBound(static_cast<int>(v)), v);
    }
}

void TestUnitHistogram::uniformPercentiles()
{
    LatencyHistogram h;
    std::vector<int64_t> values;
    for (int64_t v = 1; v <= 10000; ++v) {
        h.record(v);
        values.push_back(v);
    }
    const LatencySummary s = h.summary();
    QCOMPARE(s.count, uint64_t(10000));
    QCOMPARE(s.maxUs, int64_t(10000));
    const int64_t p50 = exactPercentile(values, 0.50);
    const int64_t p90 = exactPercentile(values, 0.90);
    const int64_t p99 = exactPercentile(values, 0.99);
    QCOMPARE(p50, int64_t(5000));
    QCOMPARE(p90, int64_t(9000));
    QCOMPARE(p99, int64_t(9900));
    QVERIFY2(withinError(s.p50Us, p50), qPrintable(QString::number(s.p50Us)));
    QVERIFY2(withinError(s.p90Us, p90), qPrintable(QString::number(s.p90Us)));
    QVERIFY2(withinError(s.p99Us, p99), qPrintable(QString::number(s.p99Us)));
    // The reported value is the upper bound of the bucket holding the exact one, capped at the
    // max (9900 is in bucket 9728..10239, so p99 reports the max, 10000).
    QCOMPARE(s.p50Us, LatencyHistogram::bucketUpperBound(LatencyHistogram::bucketOf(p50)));
    QCOMPARE(s.p90Us, LatencyHistogram::bucketUpperBound(LatencyHistogram::bucketOf(p90)));
    QCOMPARE(s.p99Us, std::min(LatencyHistogram::bucketUpperBound(LatencyHistogram::bucketOf(p99)),
                               s.maxUs));
    QCOMPARE(s.p99Us, int64_t(10000));
    QVERIFY(s.p50Us <= s.p90Us && s.p90Us <= s.p99Us && s.p99Us <= s.maxUs);
}

void TestUnitHistogram::constantDistribution()
{
    // Percentiles are capped at the max, so a constant reports itself exactly.
    LatencyHistogram h;
    for (int i = 0; i < 1000; ++i)
        h.record(1234);
    const LatencySummary s = h.summary();
    QCOMPARE(s.count, uint64_t(1000));
    QCOMPARE(s.p50Us, int64_t(1234));
    QCOMPARE(s.p90Us, int64_t(1234));
    QCOMPARE(s.p99Us, int64_t(1234));
    QCOMPARE(s.maxUs, int64_t(1234));
}

void TestUnitHistogram::bimodalPercentiles()
{
    // 95 % fast (100 us) and 5 % slow (50 ms): p50 and p90 are fast, p99 slow.
    LatencyHistogram h;
    std::vector<int64_t> values;
    for (int i = 0; i < 950; ++i) {
        h.record(100);
        values.push_back(100);
    }
    for (int i = 0; i < 50; ++i) {
        h.record(50'000);
        values.push_back(50'000);
    }
    const LatencySummary s = h.summary();
    QVERIFY(withinError(s.p50Us, 100));
    QVERIFY(withinError(s.p90Us, 100));
    QVERIFY(withinError(s.p99Us, 50'000));
    QCOMPARE(s.maxUs, int64_t(50'000));
    QCOMPARE(exactPercentile(values, 0.99), int64_t(50'000));
}

void TestUnitHistogram::randomDistributionsWithinError()
{
    std::mt19937_64 rng(7);
    for (int round = 0; round < 20; ++round) {
        LatencyHistogram h;
        std::vector<int64_t> values;
        // Log-uniform over 1 us .. ~17 min, the shape real latencies have.
        std::uniform_real_distribution<double> logDist(0.0, std::log(1e9));
        const int n = 500 + round * 100;
        for (int i = 0; i < n; ++i) {
            const auto v = static_cast<int64_t>(std::exp(logDist(rng)));
            h.record(v);
            values.push_back(v);
        }
        const LatencySummary s = h.summary();
        QCOMPARE(s.count, static_cast<uint64_t>(n));
        QCOMPARE(s.maxUs, *std::max_element(values.begin(), values.end()));
        QVERIFY(withinError(s.p50Us, exactPercentile(values, 0.50)));
        QVERIFY(withinError(s.p90Us, exactPercentile(values, 0.90)));
        QVERIFY(withinError(s.p99Us, exactPercentile(values, 0.99)));
    }
}

void TestUnitHistogram::maxIsExact()
{
    LatencyHistogram h;
    h.record(17);
    h.record(1'000'003);
    h.record(40);
    const LatencySummary s = h.summary();
    QCOMPARE(s.maxUs, int64_t(1'000'003));
    // summary() ranks with floor(q * (n - 1)) + 1, so with three values p50 and p99 are both
    // the middle one (40 us, bucket 40..41).
    QVERIFY(withinError(s.p50Us, 40));
    QVERIFY(withinError(s.p99Us, 40));

    // A single value: every percentile is capped at the exact max, not its bucket's bound.
    LatencyHistogram one;
    one.record(1'000'003);
    QVERIFY(LatencyHistogram::bucketUpperBound(LatencyHistogram::bucketOf(1'000'003)) > 1'000'003);
    const LatencySummary o = one.summary();
    QCOMPARE(o.p50Us, int64_t(1'000'003));
    QCOMPARE(o.p90Us, int64_t(1'000'003));
    QCOMPARE(o.p99Us, int64_t(1'000'003));
    QCOMPARE(o.maxUs, int64_t(1'000'003));
}

void TestUnitHistogram::negativeValuesCountAsZero()
{
    LatencyHistogram h;
    h.record(-5);
    h.record(-1'000'000);
    const LatencySummary s = h.summary();
    QCOMPARE(s.count, uint64_t(2));
    QCOMPARE(s.p50Us, int64_t(0));
    QCOMPARE(s.p99Us, int64_t(0));
    QCOMPARE(s.maxUs, int64_t(0));
    QCOMPARE(LatencyHistogram::bucketOf(-7), 0);
}

void TestUnitHistogram::mergeAddsCountsAndMax()
{
    LatencyHistogram a;
    LatencyHistogram b;
    LatencyHistogram both;
    std::vector<int64_t> values;
    for (int64_t v = 1; v <= 5000; ++v) {
        a.record(v);
        both.record(v);
        values.push_back(v);
    }
    for (int64_t v = 5001; v <= 10000; ++v) {
        b.record(v * 3);
        both.record(v * 3);
        values.push_back(v * 3);
    }
    a.merge(b);
    const LatencySummary merged = a.summary();
    const LatencySummary direct = both.summary();
    QCOMPARE(merged.count, uint64_t(10000));
    QCOMPARE(merged.maxUs, int64_t(30000));
    QCOMPARE(merged.p50Us, direct.p50Us);
    QCOMPARE(merged.p90Us, direct.p90Us);
    QCOMPARE(merged.p99Us, direct.p99Us);
    QVERIFY(withinError(merged.p90Us, exactPercentile(values, 0.90)));
    // The source is unchanged, and merging an empty histogram changes nothing.
    QCOMPARE(b.summary().count, uint64_t(5000));
    LatencyHistogram empty;
    a.merge(empty);
    QCOMPARE(a.summary().count, uint64_t(10000));
    QCOMPARE(a.summary().maxUs, int64_t(30000));
    // A smaller max does not lower the merged max.
    LatencyHistogram small;
    small.record(3);
    a.merge(small);
    QCOMPARE(a.summary().maxUs, int64_t(30000));
    QCOMPARE(a.summary().count, uint64_t(10001));
}

void TestUnitHistogram::resetClears()
{
    LatencyHistogram h;
    for (int i = 0; i < 100; ++i)
        h.record(i * 1000);
    h.reset();
    const LatencySummary s = h.summary();
    QCOMPARE(s.count, uint64_t(0));
    QCOMPARE(s.maxUs, int64_t(0));
    h.record(7);
    QCOMPARE(h.summary().maxUs, int64_t(7));
    QCOMPARE(h.summary().p99Us, int64_t(7));
}

void TestUnitHistogram::concurrentRecord()
{
    LatencyHistogram h;
    const int perThread = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&h, t] {
            for (int i = 0; i < perThread; ++i)
                h.record(1 + (i % 1000) + t);
        });
    for (auto &th : threads)
        th.join();
    const LatencySummary s = h.summary();
    QCOMPARE(s.count, uint64_t(4 * perThread));
    QCOMPARE(s.maxUs, int64_t(1000 + 3));
}

void TestUnitHistogram::bucketBoundsConsistentExhaustiveSmall()
{
    int previous = -1;
    for (int64_t v = 0; v < 4096; ++v) {
        const int b = LatencyHistogram::bucketOf(v);
        QVERIFY(b >= 0 && b < LatencyHistogram::kBuckets);
        QVERIFY(b >= previous); // monotonic
        QVERIFY(b <= previous + 1); // and never skips a bucket at this resolution
        previous = b;
        QVERIFY2(v <= LatencyHistogram::bucketUpperBound(b), qPrintable(QString::number(v)));
        if (b > 0)
            QVERIFY2(v > LatencyHistogram::bucketUpperBound(b - 1), qPrintable(QString::number(v)));
        else
            QCOMPARE(v, int64_t(0));
    }
    // Every bucket's upper bound maps back to that bucket, and bounds strictly increase.
    for (int b = 0; b < LatencyHistogram::kBuckets; ++b) {
        QCOMPARE(LatencyHistogram::bucketOf(LatencyHistogram::bucketUpperBound(b)), b);
        if (b > 0)
            QVERIFY(LatencyHistogram::bucketUpperBound(b)
                    > LatencyHistogram::bucketUpperBound(b - 1));
    }
}

void TestUnitHistogram::bucketBoundsConsistentSweep()
{
    std::mt19937_64 rng(99);
    const int64_t limit = int64_t(1) << 41; // the layout covers values below 2^41
    std::vector<int64_t> values;
    for (int e = 4; e < 41; ++e) {
        const int64_t p = int64_t(1) << e;
        for (int64_t d : {int64_t(-1), int64_t(0), int64_t(1)})
            values.push_back(p + d);
        std::uniform_int_distribution<int64_t> within(p, 2 * p - 1);
        for (int i = 0; i < 200; ++i)
            values.push_back(within(rng));
    }
    values.push_back(limit - 1);
    for (int64_t v : values) {
        QVERIFY(v < limit);
        const int b = LatencyHistogram::bucketOf(v);
        QVERIFY(b >= 0 && b < LatencyHistogram::kBuckets);
        QVERIFY2(v <= LatencyHistogram::bucketUpperBound(b), qPrintable(QString::number(v)));
        QVERIFY2(v > LatencyHistogram::bucketUpperBound(b - 1), qPrintable(QString::number(v)));
    }
    QCOMPARE(LatencyHistogram::bucketOf(limit - 1), LatencyHistogram::kBuckets - 1);
    QCOMPARE(LatencyHistogram::bucketUpperBound(LatencyHistogram::kBuckets - 1), limit - 1);
    // Larger values are clamped into the last bucket rather than indexing out of range.
    QCOMPARE(LatencyHistogram::bucketOf(limit), LatencyHistogram::kBuckets - 1);
    QCOMPARE(LatencyHistogram::bucketOf(std::numeric_limits<int64_t>::max()),
             LatencyHistogram::kBuckets - 1);
    LatencyHistogram h;
    h.record(std::numeric_limits<int64_t>::max());
    QCOMPARE(h.summary().count, uint64_t(1));
}

void TestUnitHistogram::bucketBoundsRelativeError()
{
    // Up to 2^40 us (the documented range) a bucket is at most 1/16 of its values wide.
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> logDist(0.0, std::log(double(int64_t(1) << 40)));
    for (int i = 0; i < 20000; ++i) {
        const auto v = std::max<int64_t>(1, static_cast<int64_t>(std::exp(logDist(rng))));
        const int64_t ub = LatencyHistogram::bucketUpperBound(LatencyHistogram::bucketOf(v));
        QVERIFY(ub >= v);
        QVERIFY2(static_cast<double>(ub - v) <= static_cast<double>(v) / 16.0,
                 qPrintable(QStringLiteral("%1 -> %2").arg(v).arg(ub)));
    }
}

QTEST_GUILESS_MAIN(TestUnitHistogram)
#include "tst_unit_histogram.moc"
