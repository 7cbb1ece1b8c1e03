// Bridge between the Qt event loop and the engine. Snapshots, clients and events are pulled on
// the bridge's own poll thread (an embedded broker's locked views, or JSON ops on a remote one)
// and handed to the GUI thread by queued calls, so engine threads never touch Qt objects and the
// GUI never waits, not even while a simulated broker restart holds the embedded broker. The poll
// thread also charts: it appends each snapshot to the chart store and thins the visible window
// into a frame, so the GUI thread only swaps data in and replots; a CSV export asks it for the
// window's full-resolution points the same way (answered by a queued call, never awaited).
#include "broker_bridge.h"

#include "json_codec.h"

#include <QCoreApplication>

#include <algorithm>
#include <utility>

namespace eddy::ui {

namespace {

constexpr int kPollIntervalMs = 100;
constexpr int kSlowRoundEvery = 5; // clients and events every 500 ms

QString errorText(const Error &e)
{
    return QString::fromStdString(std::string(errcName(e.code)) + ": " + e.message);
}

// Lenient field readers for replies from a remote broker: a missing or null field (a client
// without a client id) reads as empty, never as an exception on the poll thread.
std::string text(const client::Json &j, const char *key)
{
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

template <class T>
T number(const client::Json &j, const char *key)
{
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<T>() : T{};
}

QStringList toQStringList(const std::vector<std::string> &v)
{
    QStringList out;
    for (const auto &s : v)
        out << QString::fromStdString(s);
    return out;
}

} // namespace

BrokerBridge::BrokerBridge(QObject *parent) : QObject(parent)
{
    // Enough threads for a live tail's long-poll, a page fetch and admin calls at once.
    qRegisterMetaType<eddy::MetricsSnapshotPtr>("eddy::MetricsSnapshotPtr");
}

BrokerBridge::~BrokerBridge()
{
    close();
}

bool BrokerBridge::openEmbedded(const EmbeddedSettings &settings)
{
    close();
    sim::EmbeddedBroker::Options options;
    options.config.dataDir = settings.dataDir.toStdString();
    options.config.durability = settings.durability;
    // The studio's own clients use inproc://, unique per process so tests can run side by side.
    const std::string inproc = "inproc://eddy-studio-"
                               + std::to_string(QCoreApplication::applicationPid()) + "-"
                               + std::to_string(reinterpret_cast<uintptr_t>(this));
    options.server.requests.listen = {inproc};
    for (const auto &url : settings.listen)
        options.server.requests.listen.push_back(url.toStdString());
    options.server.publish.clear();
    for (const auto &url : settings.publish)
        options.server.publish.push_back(url.toStdString());
    auto embedded = sim::EmbeddedBroker::start(options);
    if (!embedded && !settings.listen.isEmpty()) {
        // A taken port must not cost the user their broker: serve the studio alone and say why
        // nobody else can connect.
        const QString why = errorText(embedded.error());
        options.server.requests.listen = {inproc};
        options.server.publish.clear();
        embedded = sim::EmbeddedBroker::start(options);
        if (embedded) {
            m_lastError = "network endpoints unavailable: " + why;
            emit brokerError(m_lastError);
        }
    } else {
        m_lastError.clear();
    }
    if (!embedded) {
        m_lastError = errorText(embedded.error());
        emit brokerError(m_lastError);
        return false;
    }
    m_embedded = std::move(*embedded);
    if (!openSession(inproc)) {
        m_embedded.reset();
        return false;
    }
    m_dataDir = settings.dataDir;
    m_clientUrl = QString::fromStdString(inproc);
    // The inproc endpoint is the studio's own; external clients see the others.
    auto urls = m_embedded->requestUrls();
    if (!urls.empty())
        urls.erase(urls.begin());
    m_requestUrls = toQStringList(urls);
    m_publishUrls = toQStringList(m_embedded->publishUrls());
    startPolling();
    return true;
}

bool BrokerBridge::connectRemote(const QString &url, const QString &token)
{
    close();
    if (!openSession(url.toStdString(), token.toStdString()))
        return false;
    m_lastError.clear();
    m_dataDir.clear();
    m_clientUrl = url;
    m_requestUrls = {url};
    m_publishUrls.clear();
    startPolling();
    return true;
}

bool BrokerBridge::openSession(const std::string &url, const std::string &token)
{
    client::ConnectionOptions options;
    options.url = url;
    options.token = token;
    auto connection = client::Connection::open(options);
    if (!connection) {
        m_lastError = errorText(connection.error());
        emit brokerError(m_lastError);
        return false;
    }
    // Name the studio's own connection so views can tell it from the broker's other clients.
    (void)(*connection)->call({{"op", "hello"}, {"client_id", kStudioClientId}}, 5000);
    auto session = std::make_shared<BrokerSession>();
    session->connection = *connection;
    session->admin = std::make_unique<client::Admin>(session->connection, 10000);
    m_session = std::move(session);
    return true;
}

void BrokerBridge::close()
{
    {
        std::lock_guard lock(m_pollMutex);
        m_pollStop = true;
    }
    m_pollCv.notify_all();
    if (m_pollThread.joinable())
        m_pollThread.join();
    // Requests the stopped thread did not answer get their null frame (queued, like answers).
    std::vector<FullFrameRequest> unanswered;
    {
        std::lock_guard lock(m_pollMutex);
        unanswered = std::exchange(m_fullFrameRequests, {});
    }
    answerFullFrames(std::move(unanswered), true);
    if (m_session)
        m_session->connection->close(); // fails running jobs fast
    m_pool.waitForDone();
    m_session.reset();
    m_embedded.reset();
    m_snapshot.reset();
    m_clients.clear();
    m_lastEvent.reset();
    // The poll thread is gone: its chart state starts over with the next broker.
    m_chartStore = ChartStore();
    m_chartHistoryLoaded = false;
    m_lastChartView.reset();
    m_chartFrame.reset();
}

void BrokerBridge::startPolling()
{
    m_pollStop = false;
    m_pollRound = 0;
    // The first snapshot synchronously, so the window opens with data rather than blank.
    auto first = pollOnce(true);
    m_snapshot = first.snapshot;
    if (first.clients)
        m_clients = *first.clients;
    m_pollThread = std::thread([this] { pollLoop(); });
}

BrokerBridge::PollResult BrokerBridge::pollOnce(bool slowRound)
{
    PollResult out;
    if (m_embedded) {
        out.snapshot = m_embedded->metrics();
        if (slowRound) {
            out.clients = m_embedded->clients();
            out.events = m_embedded->recentEvents();
        }
    } else if (m_session) {
        auto metrics = m_session->admin->metrics();
        if (metrics) {
            auto snap = net::metricsFromJson(*metrics);
            if (snap)
                out.snapshot = std::make_shared<const MetricsSnapshot>(std::move(*snap));
            else
                out.error = errorText(snap.error());
        } else {
            out.error = errorText(metrics.error());
        }
        if (slowRound && out.error.isEmpty()) {
            if (auto clients = m_session->admin->clients(); clients && clients->is_array()) {
                std::vector<net::ClientInfo> list;
                for (const auto &c : *clients)
                    if (auto info = net::clientInfoFromJson(c))
                        list.push_back(std::move(*info));
                out.clients = std::move(list);
            }
            auto events = m_session->connection->call({{"op", "events"}}, 5000);
            if (events && events->contains("events") && (*events)["events"].is_array())
                for (const auto &e : (*events)["events"])
                    if (e.is_object())
                        out.events.push_back({number<int64_t>(e, "timestamp_ms"),
                                              text(e, "kind"), text(e, "subject"),
                                              text(e, "detail")});
        }
    }
    // Keep only events after the last one handed over (the broker returns its last 1,000).
    if (m_lastEvent) {
        auto it = std::find_if(out.events.rbegin(), out.events.rend(),
                               [&](const BrokerEvent &e) { return e == *m_lastEvent; });
        if (it != out.events.rend())
            out.events.erase(out.events.begin(), it.base());
    }
    if (!out.events.empty())
        m_lastEvent = out.events.back();
    return out;
}

void BrokerBridge::pollLoop()
{
    std::unique_lock lock(m_pollMutex);
    while (!m_pollStop) {
        std::vector<FullFrameRequest> requests = std::exchange(m_fullFrameRequests, {});
        lock.unlock();
        const bool slow = (++m_pollRound % kSlowRoundEvery) == 0;
        auto result = std::make_shared<PollResult>(pollOnce(slow));
        result->chartFrame = updateCharts(result->snapshot);
        if (!requests.empty())
            answerFullFrames(std::move(requests), false);
        const bool errorChanged = result->error != m_lastPollError;
        m_lastPollError = result->error;
        m_toGui.post([this, result, errorChanged] {
                if (result->snapshot
                    && (!m_snapshot || result->snapshot->sequence != m_snapshot->sequence)) {
                    m_snapshot = result->snapshot;
                    emit snapshotUpdated(m_snapshot);
                }
                if (result->chartFrame) {
                    m_chartFrame = result->chartFrame;
                    emit chartFrameUpdated(m_chartFrame);
                }
                if (result->clients) {
                    m_clients = std::move(*result->clients);
                    emit clientsUpdated();
                }
                if (!result->events.empty())
                    emit eventsArrived(result->events);
                if (errorChanged && !result->error.isEmpty())
                    emit brokerError(result->error);
            });
        lock.lock();
        // An export request wakes the thread early: the user waits for the file.
        m_pollCv.wait_for(lock, std::chrono::milliseconds(kPollIntervalMs),
                          [this] { return m_pollStop || !m_fullFrameRequests.empty(); });
    }
}

void BrokerBridge::requestFullChartFrame(double fromS, double toS, bool perPartition,
                                         QObject *context,
                                         std::function<void(ChartFramePtr)> done)
{
    std::vector<FullFrameRequest> refused;
    {
        std::lock_guard lock(m_pollMutex);
        FullFrameRequest request{fromS, toS, perPartition, context, std::move(done)};
        if (m_pollThread.joinable() && !m_pollStop)
            m_fullFrameRequests.push_back(std::move(request));
        else
            refused.push_back(std::move(request));
    }
    if (!refused.empty())
        answerFullFrames(std::move(refused), true);
    else
        m_pollCv.notify_all();
}

void BrokerBridge::answerFullFrames(std::vector<FullFrameRequest> requests, bool unanswered)
{
    for (auto &r : requests) {
        // Built here, on the poll thread (the store is its own); null for an unanswered request.
        ChartFramePtr frame =
            unanswered ? nullptr : m_chartStore.fullFrame(r.fromS, r.toS, r.perPartition);
        m_toGui.post([context = r.context, done = std::move(r.done), frame] {
            if (context)
                done(frame);
        });
    }
}

void BrokerBridge::setChartView(int windowS, bool perPartition, int columns)
{
    m_chartWindowS = windowS;
    m_chartPerPartition = perPartition;
    m_chartColumns = std::max(columns, 1);
}

ChartFramePtr BrokerBridge::updateCharts(const MetricsSnapshotPtr &snapshot)
{
    const ChartView view{m_chartWindowS.load(), m_chartPerPartition.load(),
                         m_chartColumns.load()};
    const bool added = snapshot && m_chartStore.addSnapshot(*snapshot, view.perPartition);
    if (added && !m_chartHistoryLoaded) {
        m_chartHistoryLoaded = true;
        loadChartHistory(*snapshot);
    }
    if (!added && m_lastChartView == view)
        return nullptr;
    if (m_chartStore.lastS() == 0)
        return nullptr;
    m_lastChartView = view;
    return m_chartStore.frame(view.windowS, view.perPartition, view.columns);
}

void BrokerBridge::loadChartHistory(const MetricsSnapshot &first)
{
    // The hour before the first snapshot, so a freshly opened studio shows what happened
    // before it started. Read on the poll thread: one round is late, the GUI never waits.
    const int64_t toMs = first.timestampMs - 1;
    const int64_t fromMs = toMs - 3600 * 1000;
    std::vector<std::string> entities;
    for (const auto &topic : first.topics)
        if (!topic.name.starts_with("__"))
            entities.push_back("topic/" + topic.name);
    for (const auto &g : first.groups)
        entities.push_back("group/" + g.name);
    entities.emplace_back("broker");
    for (const auto &entity : entities)
        if (auto points = readHistory(m_embedded.get(), *m_session, entity, fromMs, toMs))
            m_chartStore.addHistory(entity, *points);
}

Result<std::vector<HistoryPoint>> BrokerBridge::readHistory(sim::EmbeddedBroker *embedded,
                                                            BrokerSession &session,
                                                            const std::string &entity,
                                                            int64_t fromMs, int64_t toMs)
{
    if (embedded)
        return embedded->metricsHistory(entity, fromMs, toMs);
    auto reply = session.connection->call(
        {{"op", "history"}, {"entity", entity}, {"from_ms", fromMs}, {"to_ms", toMs}}, 10000);
    if (!reply)
        return reply.error();
    std::vector<HistoryPoint> points;
    const auto it = reply->find("points");
    if (it == reply->end() || !it->is_array())
        return makeError(Errc::MalformedRequest, "history: no points in the reply");
    for (const auto &p : *it)
        if (p.is_object())
            points.push_back({number<int64_t>(p, "timestamp_ms"),
                              number<double>(p, "records_in_per_s"),
                              number<double>(p, "bytes_in_per_s"),
                              number<double>(p, "records_out_per_s"),
                              number<double>(p, "bytes_out_per_s"), number<int64_t>(p, "lag"),
                              number<int64_t>(p, "p50_us"), number<int64_t>(p, "p99_us")});
    return points;
}

} // namespace eddy::ui
