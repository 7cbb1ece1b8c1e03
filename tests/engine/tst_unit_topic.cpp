// Unit tests of topic validation (engine/topic_config.h), shared by every front end. Covers Kafka's
// topic-name rule: 1 and 249 characters from [A-Za-z0-9._-] accepted (including names that merely
// contain dots), and Errc::InvalidTopicName for the empty name, 250 characters, "." and "..",
// spaces, '/', embedded NUL, other punctuation, control characters and non-ASCII UTF-8; and the
// spec rule: 1..1024 partitions (0, -1, 1025 give Errc::InvalidPartitions), non-negative retention
// limits with 0 meaning unlimited (a negative records/bytes/age limit gives Errc::InvalidConfig),
// and that the name is checked first. Also pins the stable wire names of those error codes.
#include "topic_config.h"
#include "errc_string.h"

#include <QtTest>

#include <limits>
#include <string>

using namespace eddy;

Q_DECLARE_METATYPE(std::string)

class TestUnitTopic : public QObject
{
    Q_OBJECT

private slots:
    void validNames_data();
    void validNames();
    void invalidNames_data();
    void invalidNames();
    void everyAllowedCharacterAccepted();
    void everyOtherByteRejected();
    void partitionCounts_data();
    void partitionCounts();
    void retentionLimits();
    void nameCheckedBeforeOtherFields();
    void errorCodeNames();
};

void TestUnitTopic::validNames_data()
{
    QTest::addColumn<std::string>("name");
    QTest::newRow("one char") << std::string("a");
    QTest::newRow("one digit") << std::string("7");
    QTest::newRow("one underscore") << std::string("_");
    QTest::newRow("one dash") << std::string("-");
    QTest::newRow("249 chars") << std::string(249, 'x');
    QTest::newRow("249 mixed")
        << std::string(83, 'A') + std::string(83, '.') + std::string(83, '9');
    QTest::newRow("dotted") << std::string("orders.v1");
    QTest::newRow("three dots") << std::string("...");
    QTest::newRow("leading dot") << std::string(".hidden");
    QTest::newRow("dot dash") << std::string(".-");
    QTest::newRow("kafka internal") << std::string("__consumer_offsets");
    QTest::newRow("mixed") << std::string("Orders_2024-01.eu-West");
}

void TestUnitTopic::validNames()
{
    QFETCH(std::string, name);
    const auto r = validateTopicName(name);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    TopicSpec spec;
    spec.name = name;
    QVERIFY(validateTopicSpec(spec).ok());
}

void TestUnitTopic::invalidNames_data()
{
    QTest::addColumn<std::string>("name");
    QTest::newRow("empty") << std::string();
    QTest::newRow("250 chars") << std::string(250, 'x');
    QTest::newRow("1000 chars") << std::string(1000, 'a');
    QTest::newRow("dot") << std::string(".");
    QTest::newRow("dot dot") << std::string("..");
    QTest::newRow("space") << std::string("my topic");
    QTest::newRow("only space") << std::string(" ");
    QTest::newRow("trailing space") << std::string("topic ");
    QTest::newRow("slash") << std::string("a/b");
    QTest::newRow("backslash") << std::string("a\\b");
    QTest::newRow("nul inside") << std::string("ab\0cd", 5);
    QTest::newRow("nul only") << std::string(1, '\0');
    QTest::newRow("nul at end") << std::string("topic\0", 6);
    QTest::newRow("utf8 e-acute") << std::string("caf\xc3\xa9");
    QTest::newRow("utf8 cjk") << std::string("\xe4\xb8\xbb\xe9\xa2\x98");
    QTest::newRow("utf8 emoji") << std::string("t\xf0\x9f\x98\x80");
    QTest::newRow("latin1 byte") << std::string("caf\xe9");
    QTest::newRow("colon") << std::string("a:b");
    QTest::newRow("plus") << std::string("a+b");
    QTest::newRow("star") << std::string("*");
    QTest::newRow("tab") << std::string("a\tb");
    QTest::newRow("newline") << std::string("a\n");
    QTest::newRow("del") << std::string("a\x7f");
    QTest::newRow("249 plus bad char") << std::string(248, 'x') + "/";
}

void TestUnitTopic::invalidNames()
{
    QFETCH(std::string, name);
    const auto r = validateTopicName(name);
    QVERIFY(!r.ok());
    QCOMPARE(r.code(), Errc::InvalidTopicName);
    QVERIFY(!r.error().message.empty());
    TopicSpec spec;
    spec.name = name;
    const auto s = validateTopicSpec(spec);
    QVERIFY(!s.ok());
    QCOMPARE(s.code(), Errc::InvalidTopicName);
}

void TestUnitTopic::everyAllowedCharacterAccepted()
{
    const std::string allowed =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    QVERIFY(validateTopicName(allowed).ok());
    for (char c : allowed) {
        const std::string name = std::string("t") + c;
        QVERIFY2(validateTopicName(name).ok(), name.c_str());
    }
}

void TestUnitTopic::everyOtherByteRejected()
{
    const std::string allowed =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    int rejected = 0;
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        if (allowed.find(c) != std::string::npos)
            continue;
        const std::string name = std::string("ok") + c + "ok";
        const auto r = validateTopicName(name);
        QVERIFY2(!r.ok(), qPrintable(QStringLiteral("byte 0x%1 accepted").arg(b, 2, 16)));
        QCOMPARE(r.code(), Errc::InvalidTopicName);
        ++rejected;
    }
    QCOMPARE(rejected, 256 - static_cast<int>(allowed.size()));
}

void TestUnitTopic::partitionCounts_data()
{
    QTest::addColumn<int>("partitions");
    QTest::addColumn<bool>("valid");
    QTest::newRow("0") << 0 << false;
    QTest::newRow("-1") << -1 << false;
    QTest::newRow("int min") << std::numeric_limits<int>::min() << false;
    QTest::newRow("1") << 1 << true;
    QTest::newRow("2") << 2 << true;
    QTest::newRow("1024") << 1024 << true;
    QTest::newRow("1025") << 1025 << false;
    QTest::newRow("int max") << std::numeric_limits<int>::max() << false;
}

void TestUnitTopic::partitionCounts()
{
    QFETCH(int, partitions);
    QFETCH(bool, valid);
    TopicSpec spec;
    spec.name = "orders";
    spec.partitions = partitions;
    const auto r = validateTopicSpec(spec);
    QCOMPARE(r.ok(), valid);
    if (!valid)
        QCOMPARE(r.code(), Errc::InvalidPartitions);
    QCOMPARE(kMaxPartitions, 1024);
}

void TestUnitTopic::retentionLimits()
{
    TopicSpec spec;
    spec.name = "orders";
    spec.partitions = 3;
    // 0 = unlimited everywhere, positive limits fine.
    QVERIFY(validateTopicSpec(spec).ok());
    spec.retention = {1000, 1 << 20, 3'600'000};
    QVERIFY(validateTopicSpec(spec).ok());
    spec.retention = {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max(),
                      std::numeric_limits<int64_t>::max()};
    QVERIFY(validateTopicSpec(spec).ok());

    const RetentionPolicy bad[] = {{-1, 0, 0},
                                   {0, -1, 0},
                                   {0, 0, -1},
                                   {std::numeric_limits<int64_t>::min(), 10, 10},
                                   {10, 10, -3'600'000}};
    for (const auto &policy : bad) {
        spec.retention = policy;
        const auto r = validateTopicSpec(spec);
        QVERIFY(!r.ok());
        QCOMPARE(r.code(), Errc::InvalidConfig);
    }
}

void TestUnitTopic::nameCheckedBeforeOtherFields()
{
    TopicSpec spec;
    spec.name = "bad name";
    spec.partitions = 0;
    spec.retention.maxBytes = -1;
    QCOMPARE(validateTopicSpec(spec).code(), Errc::InvalidTopicName);
    spec.name = "good";
    QCOMPARE(validateTopicSpec(spec).code(), Errc::InvalidPartitions);
    spec.partitions = 1;
    QCOMPARE(validateTopicSpec(spec).code(), Errc::InvalidConfig);
    spec.retention.maxBytes = 0;
    QVERIFY(validateTopicSpec(spec).ok());
}

void TestUnitTopic::errorCodeNames()
{
    // These strings are part of the wire protocol.
    const auto name = [](Errc code) { return QByteArray(errcName(code).data()); };
    QCOMPARE(name(Errc::InvalidTopicName), QByteArray("INVALID_TOPIC_NAME"));
    QCOMPARE(name(Errc::InvalidPartitions), QByteArray("INVALID_PARTITIONS"));
    QCOMPARE(name(Errc::InvalidConfig), QByteArray("INVALID_CONFIG"));
    QVERIFY(!errcRetriable(Errc::InvalidTopicName));
    QVERIFY(!errcRetriable(Errc::InvalidPartitions));
    QVERIFY(!errcRetriable(Errc::InvalidConfig));
}

QTEST_GUILESS_MAIN(TestUnitTopic)
#include "tst_unit_topic.moc"
