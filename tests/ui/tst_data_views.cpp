// The studio's data views against a real embedded broker served on loopback TCP: an external
// client (a raw NNG REQ socket, as any program would use) creates topics, produces, commits and
// joins groups, and the message browser, groups view, clients view and event log show what the
// broker holds; the views' own writes (produce dialog, republish, reset offsets) are verified
// by reading the broker back from the external client.
#include "broker_bridge.h"
#include "clients_view.h"
#include "event_log.h"
#include "groups_view.h"
#include "message_browser.h"
#include "produce_dialog.h"
#include "record_list_model.h"
#include "record_page_model.h"
#include "record_scan.h"
#include "req_client.h"
#include "reset_offsets_dialog.h"

#include <QItemSelectionModel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QVBoxLayout>
#include <QLabel>
#include <QtTest>

using namespace eddy::ui;
using nlohmann::json;

namespace {

// An embedded broker with a loopback TCP listener on a free port, and an external client on it.
struct Studio {
    Studio()
    {
        open = bridge.openEmbedded({dir.path(), {"tcp://127.0.0.1:0"}, {}});
        if (open && !bridge.requestUrls().isEmpty())
            client = std::make_unique<ReqClient>(bridge.requestUrls().first().toStdString());
    }
    bool ready() const { return open && client && client->connected(); }

    bool ok(const json &request) { return client->call(request).value("ok", false); }

    bool createTopic(const std::string &topic, int partitions = 1)
    {
        return ok({{"op", "create_topic"}, {"topic", topic}, {"partitions", partitions}});
    }

    // Produces count records value-0.. (key k-N) to partition in batches.
    bool produce(const std::string &topic, int partition, int count, int first = 0)
    {
        for (int start = first; start < first + count; start += 5000) {
            json records = json::array();
            for (int i = start; i < std::min(first + count, start + 5000); ++i)
                records.push_back({{"key", "k-" + std::to_string(i)},
                                   {"value", "value-" + std::to_string(i)}});
            if (!ok({{"op", "produce"}, {"topic", topic}, {"partition", partition},
                     {"records", records}}))
                return false;
        }
        return true;
    }

    json fetch(const std::string &topic, int partition, int64_t offset, int max = 500)
    {
        return client->call({{"op", "fetch"}, {"topic", topic}, {"partition", partition},
                             {"offset", offset}, {"max_records", max}});
    }

    QTemporaryDir dir;
    BrokerBridge bridge;
    bool open = false;
    std::unique_ptr<ReqClient> client;
};

// With EDDY_SCREENSHOT_DIR set, saves what widget shows as NAME.png there (docs/screenshots is
// made this way); otherwise does nothing.
void saveScreenshot(QWidget *widget, const QString &name)
{
    const QString dir = qEnvironmentVariable("EDDY_SCREENSHOT_DIR");
    if (dir.isEmpty())
        return;
    QTest::qWait(150); // let the last page replies paint
    QVERIFY(widget->grab().save(dir + "/" + name + ".png"));
}

QString cell(QAbstractItemModel *model, int row, int column)
{
    return model->data(model->index(row, column)).toString();
}

} // namespace

class TestDataViews : public QObject
{
    Q_OBJECT

private slots:
    void browserShowsRecordsOfAnExternalProducer();
    void browserReportsAnUnknownTopic();
    void pagingLoadsOnlyWhatIsLookedAt();
    void boundsFollowRetentionAndNewRecords();
    void newBoundsDoNotLayTheWindowOutAgain();
    void filterScanFindsMatchesAndCanBeCancelled();
    void liveTailAppendsNewRecords();
    void produceDialogWritesARecord();
    void produceDialogShowsErrors();
    void republishCopiesSelectedRecords();
    void groupsViewShowsLagAndResetMatchesPreview();
    void resetIsRefusedWhileTheGroupHasMembers();
    void clientsViewShowsTheExternalClient();
    void eventLogShowsTopicEventsAndFilters();
};

void TestDataViews::browserShowsRecordsOfAnExternalProducer()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("orders", 2));
    json records = json::array();
    for (int i = 0; i < 30; ++i)
        records.push_back({{"key", "order-" + std::to_string(i)},
                           {"headers", {{"source", "shop"}}},
                           {"value", json{{"id", i}, {"total", i * 10}}.dump()}});
    QVERIFY(s.ok({{"op", "produce"}, {"topic", "orders"}, {"partition", 1}, {"records", records}}));

    MessageBrowser browser(&s.bridge);
    browser.resize(900, 600);
    browser.show();
    browser.setTopic("orders", 1);
    auto *model = browser.pageModel();
    QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 30, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(cell(model, 3, ValueColumn), QString("{\"id\":3,\"total\":30}"),
                              5000);
    QCOMPARE(cell(model, 3, OffsetColumn), QString("3"));
    QCOMPARE(cell(model, 3, KeyColumn), QString("order-3"));
    QCOMPARE(cell(model, 3, HeadersColumn), QString("source=shop"));

    // The detail pane pretty-prints the JSON value and lists key and headers.
    browser.table()->setCurrentIndex(model->index(3, 0));
    QTRY_VERIFY_WITH_TIMEOUT(browser.detailText().contains("\"total\": 30"), 3000);
    QVERIFY(browser.detailText().contains("order-3"));
    QVERIFY(browser.detailText().contains("source = shop"));
    saveScreenshot(&browser, "message-browser");

    // Newest first puts the last offset on top.
    browser.setNewestFirst(true);
    QCOMPARE(cell(model, 0, OffsetColumn), QString("29"));
    QTRY_COMPARE_WITH_TIMEOUT(cell(model, 0, KeyColumn), QString("order-29"), 3000);
    // Partition 0 of the same topic is empty.
    browser.setTopic("orders", 0);
    QTest::qWait(200);
    QCOMPARE(model->rowCount(), 0);
}

void TestDataViews::browserReportsAnUnknownTopic()
{
    Studio s;
    QVERIFY(s.ready());
    MessageBrowser browser(&s.bridge);
    QSignalSpy errors(browser.pageModel(), &RecordPageModel::errorOccurred);
    browser.setTopic("missing", 0);
    QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, 3000);
    QVERIFY(errors.first().first().toString().startsWith("UNKNOWN_TOPIC"));
    QCOMPARE(browser.pageModel()->rowCount(), 0);
}

void TestDataViews::pagingLoadsOnlyWhatIsLookedAt()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("big"));
    QVERIFY(s.produce("big", 0, 20000));

    MessageBrowser browser(&s.bridge);
    browser.resize(900, 500);
    browser.show();
    browser.setTopic("big", 0);
    auto *model = browser.pageModel();
    QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 20000, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(cell(model, 0, KeyColumn), QString("k-0"), 5000);
    QTest::qWait(100);
    // The visible rows cost one page, not the partition.
    QCOMPARE(model->fetchRequests(), 1);

    // Scrolling to the middle loads that page (and at most its neighbour) only.
    browser.table()->scrollTo(model->index(12345, 0), QAbstractItemView::PositionAtTop);
    QTRY_COMPARE_WITH_TIMEOUT(cell(model, 12345, ValueColumn), QString("value-12345"), 5000);
    QVERIFY2(model->fetchRequests() <= 3, qPrintable(QString::number(model->fetchRequests())));
    QVERIFY(model->cachedPages() <= 3);
    // Going to an offset selects its row and loads its page; one outside the log is refused.
    QVERIFY(browser.goToOffset(19999));
    QCOMPARE(browser.table()->currentIndex().row(), 19999);
    QTRY_VERIFY_WITH_TIMEOUT(browser.detailText().contains("value-19999"), 5000);
    QVERIFY(!browser.goToOffset(20000));

    // Walking far more pages than the cache holds keeps it bounded (least recently used go).
    for (int page = 0; page < RecordPageModel::kMaxPages + 16; ++page) {
        const int row = page * RecordPageModel::kPageSize + 7;
        QTRY_VERIFY_WITH_TIMEOUT(model->recordAt(row) != nullptr, 5000);
        QCOMPARE(model->recordAt(row)->offset, int64_t{row});
    }
    QCOMPARE(model->cachedPages(), RecordPageModel::kMaxPages);
    QVERIFY(model->fetchRequests() <= RecordPageModel::kMaxPages + 24);
}

void TestDataViews::boundsFollowRetentionAndNewRecords()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("window"));
    QVERIFY(s.produce("window", 0, 1000));
    RecordPageModel model(&s.bridge);
    model.setSource("window", 0);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 1000, 3000);
    QTRY_VERIFY_WITH_TIMEOUT(model.recordAt(450) != nullptr, 3000);

    // Retention removes the first 400 records: rows drop at the top, offsets stay put, and the
    // cached page past the new start survives.
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    model.setBounds(400, 1000);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(model.rowCount(), 600);
    QCOMPARE(model.offsetAt(0), int64_t{400});
    QVERIFY(model.recordAt(50) != nullptr);
    QCOMPARE(model.recordAt(50)->offset, int64_t{450});
    // New records append rows; newest first they come on top.
    model.setNewestFirst(true);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    model.setBounds(400, 1010);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.first().at(1).toInt(), 0);
    QCOMPARE(inserted.first().at(2).toInt(), 9);
    QCOMPARE(model.offsetAt(0), int64_t{1009});
    QCOMPARE(model.rowOf(400), 609);
    QCOMPARE(model.rowOf(399), -1);
    // A log that went backwards (recreated topic) resets the model.
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    model.setBounds(0, 10);
    QCOMPARE(reset.count(), 1);
    QCOMPARE(model.rowCount(), 10);
}

// Counts the layout requests a widget receives (a relayout of everything under it).
class LayoutRequestCounter : public QObject
{
public:
    int count = 0;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::LayoutRequest)
            ++count;
        return QObject::eventFilter(watched, event);
    }
};

void TestDataViews::newBoundsDoNotLayTheWindowOutAgain()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("busy"));
    QVERIFY(s.produce("busy", 0, 1000));
    QWidget window;
    auto *layout = new QVBoxLayout(&window);
    auto *browser = new MessageBrowser(&s.bridge, &window);
    layout->addWidget(browser);
    window.resize(900, 600);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    browser->setTopic("busy", 0);
    auto *bounds = browser->findChild<QLabel *>("bounds");
    QVERIFY(bounds);
    QTRY_VERIFY_WITH_TIMEOUT(bounds->text().contains("1000") || bounds->text().contains("1,000"),
                             5000);
    QTest::qWait(300); // the first layout settles
    LayoutRequestCounter counter;
    window.installEventFilter(&counter);
    // New records move the bounds at every snapshot under load: the label follows without
    // a relayout of the window (as long as its text does not outgrow it).
    for (int round = 1; round <= 3; ++round) {
        const QString before = bounds->text();
        QVERIFY(s.produce("busy", 0, 1, 1000 + round));
        QTRY_VERIFY_WITH_TIMEOUT(bounds->text() != before, 5000);
        QTest::qWait(50);
    }
    QCOMPARE(counter.count, 0);
    window.removeEventFilter(&counter);
}

void TestDataViews::filterScanFindsMatchesAndCanBeCancelled()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("scan"));
    QVERIFY(s.produce("scan", 0, 4000));
    // A few records to find among the 4,000: by key, by header, by value.
    QVERIFY(s.ok({{"op", "produce"}, {"topic", "scan"}, {"partition", 0},
                  {"records", json::array({
                      {{"key", "needle-a"}, {"value", "x"}},
                      {{"key", "plain"}, {"headers", {{"trace", "NEEDLE-h"}}}, {"value", "y"}},
                      {{"key", "plain"}, {"value", "{\"note\":\"a needle here\"}"}},
                  })}}));
    QVERIFY(s.produce("scan", 0, 3000, 4000));

    MessageBrowser browser(&s.bridge);
    browser.setTopic("scan", 0);
    QTRY_COMPARE_WITH_TIMEOUT(browser.pageModel()->rowCount(), 7003, 3000);
    QSignalSpy finished(browser.scan(), &RecordScan::finished);

    browser.startFilter("needle");
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    QCOMPARE(finished.first().first().toString(), QString());
    QCOMPARE(browser.scan()->scanned(), int64_t{7003});
    auto *matches = browser.matchModel();
    QCOMPARE(matches->rowCount(), 3);
    QCOMPARE(matches->recordAt(0)->offset, int64_t{4000});
    QCOMPARE(matches->recordAt(1)->offset, int64_t{4001});
    QCOMPARE(matches->recordAt(2)->offset, int64_t{4002});
    QCOMPARE(browser.table()->model(), matches);

    browser.startFilter("needle", FilterField::Headers);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 10000);
    QCOMPARE(matches->rowCount(), 1);
    QCOMPARE(matches->recordAt(0)->offset, int64_t{4001});

    browser.startFilter("k-6999", FilterField::Key);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 3, 10000);
    QCOMPARE(matches->rowCount(), 1);
    QCOMPARE(matches->recordAt(0)->offset, int64_t{7002});

    // Cancelling stops the scan before it covered the partition and drops its late matches.
    browser.startFilter("value-", FilterField::Value);
    browser.scan()->cancel();
    QCOMPARE(finished.count(), 4);
    QCOMPARE(finished.last().first().toString(), QString("cancelled"));
    QVERIFY(!browser.scan()->isRunning());
    QTest::qWait(300);
    QCOMPARE(matches->rowCount(), 0);

    browser.clearFilter();
    QCOMPARE(browser.table()->model(), browser.pageModel());
}

void TestDataViews::liveTailAppendsNewRecords()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("tail"));
    QVERIFY(s.produce("tail", 0, 50));
    MessageBrowser browser(&s.bridge);
    browser.resize(800, 400);
    browser.show();
    browser.setTopic("tail", 0);
    auto *model = browser.pageModel();
    QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 50, 3000);
    browser.setLiveTail(true);
    QTest::qWait(200); // the tail's long-poll is waiting at the end now
    QVERIFY(s.produce("tail", 0, 3, 50));
    QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 53, 3000);
    QTRY_COMPARE_WITH_TIMEOUT(cell(model, 52, ValueColumn), QString("value-52"), 3000);
    // Scrolled to the newest row.
    QTRY_VERIFY_WITH_TIMEOUT(
        browser.table()->rowAt(browser.table()->viewport()->height() - 2) >= 50
            || browser.table()->rowAt(browser.table()->viewport()->height() - 2) == -1,
        3000);
    browser.setLiveTail(false);
}

void TestDataViews::produceDialogWritesARecord()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("manual", 2));
    ProduceDialog dialog(&s.bridge, {"manual"}, "manual");
    dialog.findChild<QSpinBox *>("partition")->setValue(1);
    dialog.findChild<QLineEdit *>("key")->setText("customer-7");
    dialog.findChild<QPlainTextEdit *>("headers")->setPlainText("source=studio\n\ntrace = a=b\n");
    dialog.findChild<QPlainTextEdit *>("value")->setPlainText("{\"amount\": 12}");
    QSignalSpy produced(&dialog, &ProduceDialog::produced);
    dialog.produce();
    QTRY_COMPARE_WITH_TIMEOUT(produced.count(), 1, 3000);
    QCOMPARE(produced.first().at(0).toInt(), 1);
    QCOMPARE(produced.first().at(1).toLongLong(), 0);
    QCOMPARE(produced.first().at(2).toString(), QString());
    QVERIFY(dialog.resultText().contains("partition 1, offset 0"));

    const auto reply = s.fetch("manual", 1, 0);
    QCOMPARE(reply["records"].size(), size_t{1});
    const auto &r = reply["records"][0];
    QCOMPARE(r["key"].get<std::string>(), std::string("customer-7"));
    QCOMPARE(r["value"].get<std::string>(), std::string("{\"amount\": 12}"));
    QCOMPARE(r["headers"].size(), size_t{2});
    QCOMPARE(r["headers"][0]["key"].get<std::string>(), std::string("source"));
    QCOMPARE(r["headers"][1]["key"].get<std::string>(), std::string("trace"));
    QCOMPARE(r["headers"][1]["value"].get<std::string>(), std::string(" a=b"));

    // Automatic partition, no key: the broker picks; the dialog says where it went.
    dialog.findChild<QSpinBox *>("partition")->setValue(-1);
    dialog.findChild<QLineEdit *>("key")->clear();
    dialog.findChild<QPlainTextEdit *>("headers")->clear();
    dialog.produce();
    QTRY_COMPARE_WITH_TIMEOUT(produced.count(), 2, 3000);
    QCOMPARE(produced.last().at(2).toString(), QString());
    const int partition = produced.last().at(0).toInt();
    QVERIFY(partition == 0 || partition == 1);
    const auto back = s.fetch("manual", partition, produced.last().at(1).toLongLong());
    QVERIFY(back["records"][0]["key"].is_null());
}

void TestDataViews::produceDialogShowsErrors()
{
    Studio s;
    QVERIFY(s.ready());
    ProduceDialog dialog(&s.bridge, {}, "nowhere");
    QSignalSpy produced(&dialog, &ProduceDialog::produced);
    dialog.findChild<QPlainTextEdit *>("headers")->setPlainText("ok=1\nno equals sign");
    dialog.produce();
    QVERIFY(dialog.resultText().contains("header line 2"));
    QCOMPARE(produced.count(), 0);

    dialog.findChild<QPlainTextEdit *>("headers")->clear();
    dialog.produce();
    QTRY_COMPARE_WITH_TIMEOUT(produced.count(), 1, 3000);
    QVERIFY(produced.first().at(2).toString().startsWith("UNKNOWN_TOPIC"));
    QVERIFY(dialog.resultText().startsWith("UNKNOWN_TOPIC"));
}

void TestDataViews::republishCopiesSelectedRecords()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("orders.dlq"));
    QVERIFY(s.createTopic("orders"));
    json records = json::array();
    for (int i = 0; i < 10; ++i)
        records.push_back({{"key", "o-" + std::to_string(i)},
                           {"headers", json::array({{{"key", "error"}, {"value", "timeout"}},
                                                    {{"key", "attempt"}, {"value", "3"}}})},
                           {"value", "payload-" + std::to_string(i)}});
    // One binary value: it must survive the round trip byte for byte.
    records.push_back({{"key", "bin"}, {"value_base64", "AP8Q"}});
    QVERIFY(s.ok({{"op", "produce"}, {"topic", "orders.dlq"}, {"records", records}}));

    MessageBrowser browser(&s.bridge);
    browser.setTopic("orders.dlq", 0);
    QTRY_COMPARE_WITH_TIMEOUT(browser.pageModel()->rowCount(), 11, 3000);
    auto *selection = browser.table()->selectionModel();
    auto *model = browser.pageModel();
    for (int row : {2, 3, 4, 10})
        selection->select(model->index(row, 0),
                          QItemSelectionModel::Select | QItemSelectionModel::Rows);
    QSignalSpy done(&browser, &MessageBrowser::republished);
    browser.republishSelected("orders");
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 5000);
    QCOMPARE(done.first().at(0).toInt(), 4);
    QCOMPARE(done.first().at(1).toString(), QString());

    const auto copied = s.fetch("orders", 0, 0);
    QCOMPARE(copied["records"].size(), size_t{4});
    for (int i = 0; i < 3; ++i) {
        const auto &r = copied["records"][static_cast<size_t>(i)];
        QCOMPARE(r["key"].get<std::string>(), "o-" + std::to_string(i + 2));
        QCOMPARE(r["value"].get<std::string>(), "payload-" + std::to_string(i + 2));
        QCOMPARE(r["headers"].size(), size_t{2});
        QCOMPARE(r["headers"][0]["value"].get<std::string>(), std::string("timeout"));
    }
    QCOMPARE(copied["records"][3]["value_base64"].get<std::string>(), std::string("AP8Q"));

    // A target that does not exist: nothing copied, the broker's error reported.
    browser.republishSelected("no-such-topic");
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 2, 5000);
    QCOMPARE(done.last().at(0).toInt(), 0);
    QVERIFY(done.last().at(1).toString().startsWith("UNKNOWN_TOPIC"));
}

void TestDataViews::groupsViewShowsLagAndResetMatchesPreview()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("payments", 2));
    QVERIFY(s.produce("payments", 0, 50));
    QVERIFY(s.produce("payments", 1, 40));
    QVERIFY(s.ok({{"op", "commit"}, {"group", "billing"},
                  {"offsets", json::array({{{"topic", "payments"}, {"partition", 0},
                                            {"offset", 10}},
                                           {{"topic", "payments"}, {"partition", 1},
                                            {"offset", 30}}})}}));

    GroupsView view(&s.bridge);
    view.setGroup("billing");
    QTRY_VERIFY_WITH_TIMEOUT(view.groupInfo().has_value(), 3000);
    QCOMPARE(view.groupInfo()->totalLag, int64_t{40 + 10});
    auto *offsets = view.offsetsTable();
    QCOMPARE(offsets->rowCount(), 2);
    QCOMPARE(offsets->item(0, 2)->text(), QString("10"));
    QCOMPARE(offsets->item(0, 4)->text(), QString("40"));
    QCOMPARE(offsets->item(1, 4)->text(), QString("10"));
    QCOMPARE(view.groupsTable()->item(0, 0)->text(), QString("billing"));
    view.resize(900, 420);
    view.show();
    saveScreenshot(&view, "groups-view");

    ResetOffsetsDialog dialog(&s.bridge, "billing", {"payments"});
    QSignalSpy previewed(&dialog, &ResetOffsetsDialog::previewReady);
    QSignalSpy applied(&dialog, &ResetOffsetsDialog::applied);
    // Offset 45 is past partition 1's end: the broker clamps it, and so does the preview.
    dialog.setTopic("payments");
    dialog.setTarget(eddy::ResetKind::ToOffset, 45);
    dialog.preview();
    QTRY_COMPARE_WITH_TIMEOUT(previewed.count(), 1, 3000);
    QCOMPARE(previewed.first().first().toString(), QString());
    const auto rows = dialog.previewRows();
    QCOMPARE(rows.size(), size_t{2});
    QCOMPARE(rows[0].current, int64_t{10});
    QCOMPARE(rows[0].target, int64_t{45});
    QCOMPARE(rows[1].current, int64_t{30});
    QCOMPARE(rows[1].target, int64_t{40});
    dialog.show();
    saveScreenshot(&dialog, "reset-offsets");
    dialog.apply();
    QTRY_COMPARE_WITH_TIMEOUT(applied.count(), 1, 3000);
    QCOMPARE(applied.first().first().toString(), QString());
    const auto committed = s.client->call({{"op", "committed"}, {"group", "billing"},
                                           {"topic", "payments"}});
    for (const auto &row : rows) {
        bool found = false;
        for (const auto &c : committed["offsets"])
            if (c["partition"] == row.partition) {
                QCOMPARE(c["offset"].get<int64_t>(), row.target);
                found = true;
            }
        QVERIFY(found);
    }
    QCOMPARE(dialog.appliedOffsets().size(), rows.size());
    // The view follows: lag 5 + 0.
    QTRY_COMPARE_WITH_TIMEOUT(view.groupInfo()->totalLag, int64_t{5}, 3000);

    // Earliest on partition 1 only.
    dialog.setPartitions("1");
    dialog.setTarget(eddy::ResetKind::Earliest);
    dialog.preview();
    QTRY_COMPARE_WITH_TIMEOUT(previewed.count(), 2, 3000);
    QCOMPARE(dialog.previewRows().size(), size_t{1});
    QCOMPARE(dialog.previewRows()[0].current, int64_t{40});
    QCOMPARE(dialog.previewRows()[0].target, int64_t{0});
    // A partition that does not exist is refused before anything is sent.
    dialog.setPartitions("1, 7");
    dialog.preview();
    QTRY_COMPARE_WITH_TIMEOUT(previewed.count(), 3, 3000);
    QVERIFY(previewed.last().first().toString().startsWith("UNKNOWN_PARTITION"));
    QVERIFY(dialog.previewRows().empty());
}

void TestDataViews::resetIsRefusedWhileTheGroupHasMembers()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("busy"));
    QVERIFY(s.produce("busy", 0, 5));
    const auto joined = s.client->call({{"op", "join_group"}, {"group", "workers"},
                                        {"topics", {"busy"}}, {"client_id", "worker-1"}});
    QVERIFY(joined.value("ok", false));

    GroupsView view(&s.bridge);
    view.setGroup("workers");
    QTRY_VERIFY_WITH_TIMEOUT(view.groupInfo() && view.membersTable()->rowCount() == 1, 3000);
    QCOMPARE(view.membersTable()->item(0, 1)->text(), QString("worker-1"));
    QTRY_COMPARE_WITH_TIMEOUT(view.membersTable()->item(0, 2)->text(), QString("busy/0"), 3000);

    ResetOffsetsDialog dialog(&s.bridge, "workers", {"busy"});
    QSignalSpy previewed(&dialog, &ResetOffsetsDialog::previewReady);
    QSignalSpy applied(&dialog, &ResetOffsetsDialog::applied);
    dialog.setTarget(eddy::ResetKind::Latest);
    dialog.preview();
    QTRY_COMPARE_WITH_TIMEOUT(previewed.count(), 1, 3000);
    QCOMPARE(dialog.previewRows().size(), size_t{1});
    QCOMPARE(dialog.previewRows()[0].target, int64_t{5});
    dialog.apply();
    QTRY_COMPARE_WITH_TIMEOUT(applied.count(), 1, 3000);
    QVERIFY(applied.first().first().toString().startsWith("GROUP_NOT_EMPTY"));
    QVERIFY(dialog.statusText().contains("GROUP_NOT_EMPTY"));
    QVERIFY(dialog.appliedOffsets().empty());
}

void TestDataViews::clientsViewShowsTheExternalClient()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("seen"));
    ClientsView view(&s.bridge);
    auto *table = view.table();
    const auto externalRow = [&] {
        for (int row = 0; row < table->rowCount(); ++row)
            if (table->item(row, ClientsView::KindColumn)->text() == "external")
                return row;
        return -1;
    };
    QTRY_VERIFY_WITH_TIMEOUT(externalRow() >= 0, 3000);
    int row = externalRow();
    QVERIFY(table->item(row, ClientsView::AddressColumn)->text().startsWith("tcp://127.0.0.1"));
    QVERIFY(table->item(row, ClientsView::RequestsColumn)->text().toInt() >= 1);
    QCOMPARE(table->item(row, ClientsView::LastOpColumn)->text(), QString("create_topic"));
    QCOMPARE(table->item(row, ClientsView::RecordsInColumn)->text(), QString("0"));
    // Records it produces and fetches: totals, and rates once a full second has counted them.
    const auto number = [&](int column) {
        return QLocale().toDouble(table->item(externalRow(), column)->text());
    };
    QElapsedTimer waited;
    waited.start();
    int produced = 0;
    int64_t fetched = 0;
    while (waited.elapsed() < 8000
           && !(externalRow() >= 0 && number(ClientsView::RecordsInRateColumn) > 0
                && number(ClientsView::RecordsOutRateColumn) > 0)) {
        QVERIFY(s.produce("seen", 0, 250, produced));
        produced += 250;
        fetched += static_cast<int64_t>(s.fetch("seen", 0, fetched, 100)["records"].size());
        QTest::qWait(100);
    }
    row = externalRow();
    QVERIFY(row >= 0);
    QVERIFY(number(ClientsView::RecordsInRateColumn) > 0);
    QVERIFY(number(ClientsView::RecordsOutRateColumn) > 0);
    QTRY_COMPARE_WITH_TIMEOUT(number(ClientsView::RecordsInColumn), double(produced), 3000);
    QTRY_COMPARE_WITH_TIMEOUT(number(ClientsView::RecordsOutColumn), double(fetched), 3000);
    QCOMPARE(table->item(externalRow(), ClientsView::LastOpColumn)->text(), QString("fetch"));
    // The studio's own session is told apart from simulated and external clients.
    bool studioShown = false;
    for (int r = 0; r < table->rowCount(); ++r)
        studioShown = studioShown || table->item(r, ClientsView::KindColumn)->text() == "studio";
    QVERIFY(studioShown);
    view.resize(1180, 240);
    view.show();
    saveScreenshot(&view, "clients-view");
}

void TestDataViews::eventLogShowsTopicEventsAndFilters()
{
    Studio s;
    QVERIFY(s.ready());
    QVERIFY(s.createTopic("early"));
    EventLog log(&s.bridge);
    const auto shows = [&](const QString &kind, const QString &subject) {
        auto *model = log.table()->model();
        for (int row = 0; row < model->rowCount(); ++row)
            if (cell(model, row, 1) == kind && cell(model, row, 2) == subject)
                return true;
        return false;
    };
    // From the broker's history, then live.
    QTRY_VERIFY_WITH_TIMEOUT(shows("topic_created", "early"), 3000);
    QVERIFY(s.createTopic("late"));
    QTRY_VERIFY_WITH_TIMEOUT(shows("topic_created", "late"), 3000);
    QVERIFY(s.ok({{"op", "delete_topic"}, {"topic", "early"}}));
    QTRY_VERIFY_WITH_TIMEOUT(shows("topic_deleted", "early"), 3000);
    QTest::qWait(600); // one more poll round: nothing is shown twice
    QCOMPARE(log.eventCount(), 3);

    log.setFilterText("EARLY");
    QCOMPARE(log.visibleCount(), 2);
    log.setFilterText("deleted");
    QCOMPARE(log.visibleCount(), 1);
    log.setFilterText("nothing like this");
    QCOMPARE(log.visibleCount(), 0);
    log.setFilterText({});
    QCOMPARE(log.visibleCount(), 3);
    log.resize(800, 240);
    log.show();
    saveScreenshot(&log, "event-log");
}

QTEST_MAIN(TestDataViews)
#include "tst_data_views.moc"
