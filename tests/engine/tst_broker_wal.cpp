// The write-ahead log at start-up in durable mode. A copy of eddy.db and eddy.db-wal taken while
// the broker runs is what a crash leaves behind; that image must open with every committed
// record. Damage in the middle of the log or to its header (which SQLite would answer by
// silently ignoring every later commit) makes the broker refuse with CORRUPT_STORE and leaves
// the files as they were; a torn last frame (what a crash during a write leaves) is not damage.
#include "broker_fixture.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace eddy;
using namespace eddy::test;

class TestBrokerWal : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void crashImageOpensWithEverything();
    void damagedFrameRefusesToOpen_data();
    void damagedFrameRefusesToOpen();
    void tornLastFrameIsNotDamage();

private:
    // Copies the running broker's database and log into a new directory: a crash image.
    QString crashImage();
    static QByteArray readFile(const QString &path);
    static int64_t records(const QString &dir);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::vector<std::unique_ptr<QTemporaryDir>> m_images;
    std::unique_ptr<Broker> m_broker;
    static constexpr int kRecords = 120;
};

void TestBrokerWal::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    auto config = testConfig(m_dir->path(), Durability::Durable);
    // No metric history writes while the files are copied.
    config.metricsIntervalMs = 3600 * 1000;
    auto opened = Broker::open(config);
    QVERIFY2(opened, describe(opened).constData());
    m_broker = std::move(*opened);
    EDDY_VERIFY_OK(m_broker->createTopic({"w", 1, {}}));
    // One durable commit per record: the log holds many small transactions.
    for (int i = 0; i < kRecords; ++i) {
        auto r = produceTo("w", 0, {rec(std::string(200, char('a' + i % 26)), "k")});
        r.acks = Acks::Durable;
        EDDY_VERIFY_OK(m_broker->produceSync(r));
    }
}

void TestBrokerWal::cleanup()
{
    m_broker.reset();
    m_images.clear();
    m_dir.reset();
}

QString TestBrokerWal::crashImage()
{
    m_images.push_back(std::make_unique<QTemporaryDir>());
    const QString to = m_images.back()->path();
    for (const char *name : {"/eddy.db", "/eddy.db-wal"})
        if (!QFile::copy(m_dir->path() + name, to + name))
            return {};
    return to;
}

QByteArray TestBrokerWal::readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

int64_t TestBrokerWal::records(const QString &dir)
{
    auto opened = Broker::open(testConfig(dir, Durability::Durable));
    if (!opened) {
        qWarning("%s", describe(opened).constData());
        return -1;
    }
    const auto info = (*opened)->describeTopic("w");
    return info ? info->partitionInfo[0].highWatermark : -1;
}

void TestBrokerWal::crashImageOpensWithEverything()
{
    const QString image = crashImage();
    QVERIFY(!image.isEmpty());
    QVERIFY2(readFile(image + "/eddy.db-wal").size() > 100 * 1024,
             "the records are expected in the log, not yet in the database");
    QCOMPARE(records(image), int64_t(kRecords));
}

void TestBrokerWal::damagedFrameRefusesToOpen_data()
{
    QTest::addColumn<QString>("where");
    QTest::newRow("a frame in the middle") << "middle";
    QTest::newRow("the log header") << "header";
}

void TestBrokerWal::damagedFrameRefusesToOpen()
{
    QFETCH(QString, where);
    const QString image = crashImage();
    QVERIFY(!image.isEmpty());
    const QString wal = image + "/eddy.db-wal";
    QByteArray bytes = readFile(wal);
    const qint64 pageSize = (uchar(bytes[8]) << 24) | (uchar(bytes[9]) << 16)
                            | (uchar(bytes[10]) << 8) | uchar(bytes[11]);
    const qint64 frameSize = 24 + pageSize;
    const qint64 frames = (bytes.size() - 32) / frameSize;
    QVERIFY(frames > 20);
    // A few bytes of one page's contents (or of the header's checkpoint sequence) flipped.
    const qint64 at = where == "middle" ? 32 + (frames / 2) * frameSize + 24 + 100 : 12;
    for (int i = 0; i < 4; ++i)
        bytes[at + i] = char(~bytes[at + i]);
    {
        QFile f(wal);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        QCOMPARE(f.write(bytes), bytes.size());
    }
    auto opened = Broker::open(testConfig(image, Durability::Durable));
    QVERIFY2(!opened, "a damaged log opened (SQLite would have dropped the commits after it)");
    QCOMPARE(opened.code(), Errc::CorruptStore);
    QVERIFY2(opened.error().message.find("write-ahead log") != std::string::npos,
             opened.error().message.c_str());
    qInfo("%s", opened.error().message.c_str());
    // Nothing was repaired or reset on the way.
    QVERIFY(readFile(wal) == bytes);
}

void TestBrokerWal::tornLastFrameIsNotDamage()
{
    const QString image = crashImage();
    QVERIFY(!image.isEmpty());
    const QString wal = image + "/eddy.db-wal";
    QByteArray bytes = readFile(wal);
    const qint64 pageSize = (uchar(bytes[8]) << 24) | (uchar(bytes[9]) << 16)
                            | (uchar(bytes[10]) << 8) | uchar(bytes[11]);
    // Half of the last frame made it to disk: the transaction it ends was never acknowledged
    // by a real broker, and only that one is lost.
    bytes.chop((24 + pageSize) / 2);
    {
        QFile f(wal);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        QCOMPARE(f.write(bytes), bytes.size());
    }
    const int64_t n = records(image);
    QVERIFY2(n == kRecords - 1, qPrintable(QString("%1 records after a torn last frame").arg(n)));
}

QTEST_GUILESS_MAIN(TestBrokerWal)
#include "tst_broker_wal.moc"
