// The server's reply path on its own: NngServer writes each reply into the request's own NNG
// message, and a reply given while the sink's handle() still runs is held until handle()
// returns. Driven by a scripted RequestSink over loopback tcp:// and a raw NNG REQ client, so
// the bytes checked are exactly what reached the wire: replies smaller than, as large as and far
// larger than their request, with NUL bytes, given inline or later from another thread, and
// dropped ones; and the request body the sink reads after replying inline is still the request.
#include "nng_server.h"
#include "req_client.h"

#include <QtTest>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

using eddy::net::NngServer;
using eddy::net::Peer;
using eddy::net::RequestSink;
using eddy::net::ServerOptions;

namespace {

// The reply a request asks for: its bytes reversed, then `extra` bytes of a pattern that
// includes NULs. Distinct from the request for every size, so an echo of the request (what the
// reused message held) would not pass for it.
std::string expectedReply(const std::string &request, std::size_t extra)
{
    std::string out(request.rbegin(), request.rend());
    out.push_back('!');
    for (std::size_t i = 0; i < extra; ++i)
        out.push_back(static_cast<char>(i % 251));
    return out;
}

// Requests are "<mode><extra as decimal>:<payload>". Modes: 'i' replies inline, then reads the
// body again; 'l' replies later, from a thread of its own; 'd' answers nothing.
class ScriptedSink : public RequestSink
{
public:
    ~ScriptedSink() override
    {
        for (auto &t : m_threads)
            t.join();
    }

    void handle(std::string_view request, const Peer &, eddy::net::ReplyFn reply) override
    {
        const std::string copy(request);
        const auto colon = copy.find(':');
        const std::size_t extra = std::stoul(copy.substr(1, colon - 1));
        switch (copy.front()) {
        case 'i': {
            reply(expectedReply(copy, extra));
            std::lock_guard lock(m_mutex);
            m_bodyAfterReply = std::string(request); // must still be the request's bytes
            return;
        }
        case 'l': {
            std::lock_guard lock(m_mutex);
            m_threads.emplace_back([copy, extra, reply = std::move(reply)] {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                reply(expectedReply(copy, extra));
            });
            return;
        }
        default:
            reply({});
        }
    }

    std::string bodyAfterReply()
    {
        std::lock_guard lock(m_mutex);
        return m_bodyAfterReply;
    }

private:
    std::mutex m_mutex;
    std::string m_bodyAfterReply;
    std::vector<std::thread> m_threads;
};

} // namespace

class TestReplyMessage : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void replyBytesAreExact_data();
    void replyBytesAreExact();
    void droppedRequestIsUnansweredAndServingGoesOn();

private:
    std::unique_ptr<ScriptedSink> m_sink;
    std::unique_ptr<NngServer> m_server;
    std::string m_url;
};

void TestReplyMessage::init()
{
    m_sink = std::make_unique<ScriptedSink>();
    ServerOptions options;
    options.listen = {"tcp://127.0.0.1:0"};
    options.workers = 4;
    auto server = NngServer::start(options, *m_sink);
    QVERIFY2(server, server ? "" : server.error().message.c_str());
    m_server = std::move(*server);
    m_url = m_server->urls().front();
}

void TestReplyMessage::cleanup()
{
    if (m_server)
        m_server->stop();
    m_server.reset();
    m_sink.reset();
}

void TestReplyMessage::replyBytesAreExact_data()
{
    QTest::addColumn<char>("mode");
    QTest::addColumn<int>("payload");
    QTest::addColumn<int>("extra");
    for (const char mode : {'i', 'l'}) {
        const std::string m(1, mode);
        QTest::addRow("%s smaller than the request", m.c_str()) << mode << 4000 << 0;
        QTest::addRow("%s one byte", m.c_str()) << mode << 0 << 0;
        QTest::addRow("%s a little larger", m.c_str()) << mode << 100 << 64;
        QTest::addRow("%s far larger (256 KiB)", m.c_str()) << mode << 10 << (256 << 10);
    }
}

void TestReplyMessage::replyBytesAreExact()
{
    QFETCH(char, mode);
    QFETCH(int, payload);
    QFETCH(int, extra);
    ReqClient client(m_url);
    QVERIFY(client.connected());
    // Several in a row on one connection: each reply reuses a message that last carried
    // another request.
    for (int round = 0; round < 3; ++round) {
        std::string request = std::string(1, mode) + std::to_string(extra) + ":";
        for (int i = 0; i < payload; ++i)
            request.push_back(static_cast<char>((i * 7 + round) % 256));
        const auto reply = client.raw(request);
        QVERIFY(reply);
        QCOMPARE(reply->size(), expectedReply(request, extra).size());
        QVERIFY(*reply == expectedReply(request, extra));
        if (mode == 'i')
            QVERIFY(m_sink->bodyAfterReply() == request);
    }
}

void TestReplyMessage::droppedRequestIsUnansweredAndServingGoesOn()
{
    ReqClient client(m_url, 300);
    QVERIFY(client.connected());
    QVERIFY(!client.raw("d0:"));
    const std::string request = "i5:next";
    const auto reply = client.raw(request);
    QVERIFY(reply);
    QVERIFY(*reply == expectedReply(request, 5));
}

QTEST_GUILESS_MAIN(TestReplyMessage)
#include "tst_reply_message.moc"
