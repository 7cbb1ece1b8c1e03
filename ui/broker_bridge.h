#pragma once

#include "admin.h"
#include "broker.h"
#include "chart_data.h"
#include "connection.h"
#include "embedded_broker.h"
#include "metrics.h"
#include "protocol_handler.h"
#include "thread_handoff.h"

#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace eddy::ui {

// The studio's own client of the broker, used on the bridge's worker threads only: one
// connection (inproc:// to the embedded broker, or the remote URL) and an Admin on it.
struct BrokerSession {
    std::shared_ptr<client::Connection> connection;
    std::unique_ptr<client::Admin> admin;
};

// The client id the studio's own connection announces (hello), so it is not shown as an
// external client of a remote broker.
inline constexpr const char *kStudioClientId = "eddy-studio";

// How the studio runs its embedded broker.
struct EmbeddedSettings {
    QString dataDir;
    QStringList listen;  // request endpoints for external clients (none: embedded use only)
    QStringList publish; // live-stream endpoints
    Durability durability = Durability::Fast;
};

// The studio's single link to the broker engine. It hosts the embedded broker (or dials a remote
// one), pulls immutable metric snapshots, the client list and new broker events on its own
// thread and hands them to the GUI thread by queued calls, and runs commands on worker threads
// (submit). Its poll thread also keeps the charts' history (with the hour before the first
// snapshot read from the broker's persisted history) and thins it into ready-to-plot chart
// frames. The GUI thread never waits on the broker. Everything else in ui/ talks to this
// object, never to the engine.
class BrokerBridge : public QObject
{
    Q_OBJECT

public:
    explicit BrokerBridge(QObject *parent = nullptr);
    ~BrokerBridge() override;

    // Opens the embedded broker on settings.dataDir, serving it to the studio's own clients on
    // an inproc:// endpoint and to external clients on settings.listen. Returns false and sets
    // lastError() when the broker cannot open; endpoints that fail to bind are reported through
    // lastError() and brokerError while the broker still serves the studio.
    bool openEmbedded(const EmbeddedSettings &settings);
    // Dials a remote `eddy broker` at url, authenticating with token when it checks access
    // (docs/security.md; the studio's views need admin rights there). Returns false and sets
    // lastError() when unreachable or refused.
    bool connectRemote(const QString &url, const QString &token = {});
    // Stops polling, aborts running commands and closes the broker (or the connection).
    void close();

    bool isOpen() const { return m_session != nullptr; }
    bool isEmbedded() const { return m_embedded != nullptr; }
    QString dataDir() const { return m_dataDir; }
    QString lastError() const { return m_lastError; }
    // The URL the studio's own clients (simulations, browser) dial.
    QString clientUrl() const { return m_clientUrl; }
    // The embedded broker, the BrokerControl of simulations; null when connected remotely.
    sim::EmbeddedBroker *embedded() const { return m_embedded.get(); }

    // The latest snapshot (null until the first arrived).
    MetricsSnapshotPtr snapshot() const { return m_snapshot; }
    // Network clients of the broker as last polled (every 500 ms).
    const std::vector<net::ClientInfo> &clients() const { return m_clients; }
    // Endpoints actually served (ports resolved); the remote URL when connected remotely.
    QStringList requestUrls() const { return m_requestUrls; }
    QStringList publishUrls() const { return m_publishUrls; }

    // Runs job on a worker thread with the studio's session and hands its result to done on the
    // GUI thread, unless context was destroyed meanwhile. Jobs may block (a long-poll fetch);
    // close() aborts them through the connection. Without an open broker done is not called.
    template <class T>
    void submit(QObject *context, std::function<T(BrokerSession &)> job,
                std::function<void(T)> done)
    {
        auto session = m_session;
        if (!session)
            return;
        QPointer<QObject> guard(context);
        m_pool.start([this, session, guard, job = std::move(job), done = std::move(done)] {
            auto result = std::make_shared<T>(job(*session));
            m_toGui.post([guard, result, done] {
                if (guard)
                    done(std::move(*result));
            });
        });
    }

    // What the chart frames show: the window in seconds, lag per partition or per group, and
    // about how many pixel columns the plots are wide (frames hold at most 2 * columns + 2
    // points per series). Any thread; frames follow from the next poll round (<= 100 ms).
    void setChartView(int windowS, bool perPartition, int columns);
    // The latest chart frame (null until the first snapshot was charted).
    ChartFramePtr chartFrame() const { return m_chartFrame; }
    // Asks the poll thread for every point the charts hold in [fromS, toS] (ChartStore::
    // fullFrame: unthinned, lag per partition or per group) and hands the frame to done on the
    // GUI thread within a poll round, unless context was destroyed meanwhile. Never waits. While
    // not polling (closed, or closed before the request was answered) done gets null. GUI thread.
    void requestFullChartFrame(double fromS, double toS, bool perPartition, QObject *context,
                               std::function<void(ChartFramePtr)> done);

signals:
    // A new snapshot arrived (about every 100 ms while open).
    void snapshotUpdated(eddy::MetricsSnapshotPtr snapshot);
    // A new chart frame: after each new snapshot and after setChartView changed the view.
    void chartFrameUpdated(eddy::ui::ChartFramePtr frame);
    // clients() changed.
    void clientsUpdated();
    // Broker events published since the last call, oldest first.
    void eventsArrived(const std::vector<eddy::BrokerEvent> &events);
    void brokerError(const QString &message);

private:
    bool openSession(const std::string &url, const std::string &token = {});
    void startPolling();
    void pollLoop();
    // One round of the poll thread; returns what to hand to the GUI thread.
    struct PollResult {
        MetricsSnapshotPtr snapshot;
        std::optional<std::vector<net::ClientInfo>> clients;
        std::vector<BrokerEvent> events;
        QString error;
        ChartFramePtr chartFrame;
    };
    PollResult pollOnce(bool slowRound);
    // Poll thread: adds the snapshot to the chart store (reading the history before it the first
    // time) and returns a new frame when the snapshot or the view changed, else null.
    ChartFramePtr updateCharts(const MetricsSnapshotPtr &snapshot);
    void loadChartHistory(const MetricsSnapshot &first);
    // Persisted metric history of an entity ("broker", "topic/NAME", "group/NAME") from the
    // embedded broker's store or the remote broker's history op. Blocks; not on the GUI thread.
    static Result<std::vector<HistoryPoint>> readHistory(sim::EmbeddedBroker *embedded,
                                                         BrokerSession &session,
                                                         const std::string &entity,
                                                         int64_t fromMs, int64_t toMs);

    std::unique_ptr<sim::EmbeddedBroker> m_embedded;
    std::shared_ptr<BrokerSession> m_session; // shared with running jobs
    HandoffQueue m_toGui; // before m_pool: its jobs post here until it is done
    HandoffPool m_pool{4};
    std::thread m_pollThread;
    std::mutex m_pollMutex;
    std::condition_variable m_pollCv;
    bool m_pollStop = false;
    int m_pollRound = 0;
    struct FullFrameRequest {
        double fromS = 0;
        double toS = 0;
        bool perPartition = false;
        QPointer<QObject> context;
        std::function<void(ChartFramePtr)> done;
    };
    // Hands each request's frame (null: unanswered) to its callback by a queued call.
    void answerFullFrames(std::vector<FullFrameRequest> requests, bool unanswered);
    std::vector<FullFrameRequest> m_fullFrameRequests; // guarded by m_pollMutex
    std::optional<BrokerEvent> m_lastEvent; // poll thread only
    QString m_lastPollError;               // poll thread only
    ChartStore m_chartStore;               // poll thread only (reset by close)
    bool m_chartHistoryLoaded = false;     // poll thread only
    struct ChartView {
        int windowS = 60;
        bool perPartition = false;
        int columns = 600;
        bool operator==(const ChartView &) const = default;
    };
    std::optional<ChartView> m_lastChartView; // poll thread only: the view of the last frame
    std::atomic<int> m_chartWindowS{60};
    std::atomic<bool> m_chartPerPartition{false};
    std::atomic<int> m_chartColumns{600};
    ChartFramePtr m_chartFrame;

    MetricsSnapshotPtr m_snapshot;
    std::vector<net::ClientInfo> m_clients;
    QStringList m_requestUrls;
    QStringList m_publishUrls;
    QString m_clientUrl;
    QString m_dataDir;
    QString m_lastError;
};

} // namespace eddy::ui
