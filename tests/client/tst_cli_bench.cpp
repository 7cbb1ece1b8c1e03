// `eddy bench` as a subprocess with its embedded broker, on tiny runs: each workload's --json
// object carries every documented field, counts what was asked, and its figures are positive
// and consistent with each other (p50 <= p99 <= p99.9 <= max; MB/s = records/s x record size).
// Nothing here is timed: speed is for benchmarks to report, not for tests to assert. Bad options
// and an unreachable broker fail with a non-zero exit and a clear message.
#include "child_process.h"

#include <QtTest>

#include <nlohmann/json.hpp>

namespace {

ChildRun eddy(const QStringList &args)
{
    return runChild(EDDY_CLI_PATH, QStringList{"bench"} + args, 40000);
}

} // namespace

class TestCliBench : public QObject
{
    Q_OBJECT

private:
    // Runs a workload with --json into j and checks the object common to every workload.
    // Callers check QTest::currentTestFailed() after it.
    void runJson(const QStringList &args, int64_t records, int recordSize, nlohmann::json &j)
    {
        const ChildRun r = eddy(args + QStringList{"--json", "--quiet"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        j = nlohmann::json::parse(r.out.toStdString(), nullptr, false);
        QVERIFY2(j.is_object(), qPrintable(r.describe()));
        for (const char *field : {"records_per_s", "mb_per_s", "p50_us", "p99_us", "p999_us",
                                  "max_us", "records", "errors", "seconds", "transport"})
            QVERIFY2(j.contains(field), field);
        QCOMPARE(j["records"].get<int64_t>(), records);
        QCOMPARE(j["errors"].get<int64_t>(), 0);
        QVERIFY(j["records_per_s"].get<double>() > 0);
        QVERIFY(j["mb_per_s"].get<double>() > 0);
        QVERIFY(j["p50_us"].get<double>() > 0);
        QVERIFY(j["p50_us"].get<double>() <= j["p99_us"].get<double>());
        QVERIFY(j["p99_us"].get<double>() <= j["p999_us"].get<double>());
        QVERIFY(j["p999_us"].get<double>() <= j["max_us"].get<double>());
        const double expectedMb = j["records_per_s"].get<double>() * recordSize / 1e6;
        QVERIFY(std::abs(j["mb_per_s"].get<double>() - expectedMb) <= expectedMb * 1e-6);
        QVERIFY(j["seconds"].get<double>() > 0);
        const auto transport = j["transport"].get<std::string>();
        QVERIFY2(transport.find("embedded broker") != std::string::npos
                     && transport.find("tcp://127.0.0.1:") != std::string::npos,
                 transport.c_str());
    }

private slots:
    void produceReportsEveryField()
    {
        nlohmann::json j;
        runJson({"produce", "--records", "3000", "--batch", "100", "--partitions", "2",
                 "--connections", "3", "--inflight", "2", "--record-size", "50"},
                3000, 50, j);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(j["requests"].get<int64_t>(), 30);
        QCOMPARE(j["acks"].get<std::string>(), "leader");
    }

    void durableProduceAndConsume()
    {
        nlohmann::json j;
        runJson({"produce", "--records", "500", "--batch", "50", "--acks", "durable",
                 "--durability", "durable"},
                500, 100, j);
        if (QTest::currentTestFailed())
            return;
        // Three partitions, one connection asked for: every partition is still read.
        runJson({"consume", "--records", "3000", "--batch", "200", "--partitions", "3"}, 3000,
                100, j);
    }

    void produceOverKafka()
    {
        nlohmann::json j;
        runJson({"produce", "--kafka", "--records", "2000", "--batch", "10", "--connections", "3",
                 "--inflight", "2", "--acks", "durable", "--durability", "durable",
                 "--partitions", "2"},
                2000, 100, j);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(j["requests"].get<int64_t>(), 200);
        QVERIFY2(j["transport"].get<std::string>().find("Kafka protocol") != std::string::npos,
                 j["transport"].get<std::string>().c_str());
        ChildRun r = eddy({"consume", "--kafka"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("produce and e2e workloads"), qPrintable(r.err));
        r = eddy({"produce", "--kafka", "--broker", "tcp://127.0.0.1:9"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("--kafka-bootstrap"), qPrintable(r.err));
    }

    void roundtripAndE2e()
    {
        nlohmann::json j;
        runJson({"roundtrip", "--records", "200"}, 200, 100, j);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(j["requests"].get<int64_t>(), 200);
        runJson({"e2e", "--records", "300", "--rate", "3000", "--partitions", "2",
                 "--connections", "2"},
                300, 100, j);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(j["batch"].get<int>(), 1);
        // The same over Kafka's protocol, against the embedded broker's Kafka listener, with
        // durable acks: every record produced is consumed once.
        runJson({"e2e", "--kafka", "--records", "300", "--rate", "3000", "--partitions", "2",
                 "--connections", "2", "--acks", "durable", "--durability", "durable"},
                300, 100, j);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(j["requests"].get<int64_t>(), 300);
        QVERIFY2(j["transport"].get<std::string>().find("Fetch v4") != std::string::npos,
                 j["transport"].get<std::string>().c_str());
    }

    void producerBatchesThroughTheClientLibrary()
    {
        // 3 producers with 40 records outstanding each: the library batches what waits while a
        // partition's batch is in flight, so there are fewer requests than records, and no
        // request carries more than --batch.
        nlohmann::json j;
        runJson({"producer", "--records", "3000", "--batch", "25", "--partitions", "2",
                 "--connections", "3", "--inflight", "40", "--acks", "durable", "--durability",
                 "durable", "--linger-ms", "0"},
                3000, 100, j);
        if (QTest::currentTestFailed())
            return;
        const auto requests = j["requests"].get<int64_t>();
        QVERIFY2(requests >= 3000 / 25 && requests < 3000, qPrintable(QString::number(requests)));
        QCOMPARE(j["linger_ms"].get<int>(), 0);
        QCOMPARE(j["workload"].get<std::string>(), "producer");
        QVERIFY(j["records_per_request"].get<double>() > 1);
        // One record outstanding per producer: nothing to batch, a request per record.
        runJson({"producer", "--records", "200", "--connections", "2", "--linger-ms", "0"}, 200,
                100, j);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(j["requests"].get<int64_t>(), 200);
        const ChildRun r = eddy({"producer", "--linger-ms", "-1"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("--linger-ms needs an integer"), qPrintable(r.err));
    }

    void tableByDefault()
    {
        const ChildRun r = eddy({"produce", "--records", "1000", "--quiet"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QVERIFY2(r.out.contains("records/s") && r.out.contains("p99 us")
                     && r.out.contains("embedded broker"),
                 qPrintable(r.describe()));
    }

    void badOptionsFail()
    {
        ChildRun r = eddy({"produce", "--acks", "sometimes"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("--acks must be none, leader or durable"), qPrintable(r.err));
        r = eddy({"fly"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("unknown workload 'fly'"), qPrintable(r.err));
        r = eddy({"produce", "--batch", "0"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("--batch needs an integer"), qPrintable(r.err));
        r = eddy({"roundtrip", "--batch", "10"});
        QCOMPARE(r.exitCode, 2);
        r = eddy({"produce", "--broker", "tcp://127.0.0.1:9", "--durability", "durable"});
        QCOMPARE(r.exitCode, 2);
    }

    void unreachableBrokerFails()
    {
        // Port 9 (discard) has no listener on loopback: the dial is refused at once.
        const ChildRun r = eddy({"produce", "--broker", "tcp://127.0.0.1:9", "--records", "10"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("tcp://127.0.0.1:9"), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliBench)
#include "tst_cli_bench.moc"
