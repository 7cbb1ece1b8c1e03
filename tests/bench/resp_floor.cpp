// The durable-produce floor of tests/bench/peers.sh: a server that does the least any durable
// server must do for redis-benchmark's unbatched XADD clients, so the table can show what this
// machine and that client allow at all, next to Redis `appendfsync always` and Eddy.
//
// One thread, Redis's own loop: epoll, read every ready client, then — with `--flush loop` —
// write what the XADDs of that pass carried into a preallocated journal file with one pwrite
// and one fdatasync, and only then send the pass's replies. The journal is overwritten in
// place (written with zeros and synced at start), the cheapest flush this disk has: no file
// growth, so no metadata to commit, where Redis appends to its AOF. There is no storage
// logic, no index and no reading back. With `--flush none` it answers at once: the ceiling of
// redis-benchmark's clients and loopback on this machine, whatever a server does.
//
// It speaks just enough RESP for redis-cli and redis-benchmark: PING, CONFIG (an empty
// answer), XADD (answered with a stream id); anything else gets an error, and a request that
// is not RESP gets a protocol error and the connection closed. Loopback only. SIGTERM or
// SIGINT stops it; it then prints one JSON line (XADDs, flushes, mean fdatasync in µs) and
// removes its journal.
//
// usage: eddy_resp_floor --port PORT [--flush none|loop] [--dir DIR] [--journal-mib N]
//   --port 0 takes a free port and prints it on stderr ("listening on 127.0.0.1:PORT").
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;

void onSignal(int)
{
    g_stop = 1;
}

struct Options {
    int port = -1; // 0: any free port
    bool flush = true;
    std::string dir = "/tmp";
    std::size_t journalBytes = 64u << 20;
};

// One client: what it sent that is not a whole request yet, and replies not yet sent.
struct Client {
    int fd = -1;
    std::string in;
    std::string out;
    bool watchingOut = false;
};

enum class Parse { Done, Incomplete, Malformed };

// Reads "<prefix><integer>\r\n" at pos; Incomplete until the line ends, Malformed otherwise.
Parse readLine(const std::string &in, std::size_t &pos, char prefix, long long &value)
{
    if (pos >= in.size())
        return Parse::Incomplete;
    if (in[pos] != prefix)
        return Parse::Malformed;
    const std::size_t end = in.find("\r\n", pos);
    if (end == std::string::npos)
        return in.size() - pos > 32 ? Parse::Malformed : Parse::Incomplete;
    char *stop = nullptr;
    value = std::strtoll(in.c_str() + pos + 1, &stop, 10);
    if (stop != in.c_str() + end || value < 0 || value > (64 << 20))
        return Parse::Malformed;
    pos = end + 2;
    return Parse::Done;
}

// One RESP array of bulk strings from pos: its arguments, and pos moved past it.
Parse readCommand(const std::string &in, std::size_t &pos, std::vector<std::string_view> &args)
{
    std::size_t p = pos;
    long long count = 0;
    if (auto r = readLine(in, p, '*', count); r != Parse::Done)
        return r;
    if (count < 1 || count > 1024)
        return Parse::Malformed;
    args.clear();
    for (long long i = 0; i < count; ++i) {
        long long len = 0;
        if (auto r = readLine(in, p, '$', len); r != Parse::Done)
            return r;
        if (in.size() < p + static_cast<std::size_t>(len) + 2)
            return Parse::Incomplete;
        if (in.compare(p + static_cast<std::size_t>(len), 2, "\r\n") != 0)
            return Parse::Malformed;
        args.emplace_back(in.data() + p, static_cast<std::size_t>(len));
        p += static_cast<std::size_t>(len) + 2;
    }
    pos = p;
    return Parse::Done;
}

bool named(std::string_view arg, const char *name)
{
    const std::size_t n = std::strlen(name);
    if (arg.size() != n)
        return false;
    for (std::size_t i = 0; i < n; ++i)
        if (std::toupper(static_cast<unsigned char>(arg[i])) != name[i])
            return false;
    return true;
}

class Server
{
public:
    explicit Server(Options options) : m_o(std::move(options)) {}

    // Opens the journal (with --flush loop) and the loopback listener; false with a message.
    bool open()
    {
        if (m_o.flush && !openJournal())
            return false;
        m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        const int one = 1;
        ::setsockopt(m_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(m_o.port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(m_listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0
            || ::listen(m_listener, 1024) != 0) {
            std::fprintf(stderr, "eddy_resp_floor: listen on 127.0.0.1:%d: %s\n", m_o.port,
                         std::strerror(errno));
            return false;
        }
        // With --port 0 the kernel picks the port: it is told on stderr for whoever started us.
        socklen_t len = sizeof addr;
        ::getsockname(m_listener, reinterpret_cast<sockaddr *>(&addr), &len);
        std::fprintf(stderr, "eddy_resp_floor: listening on 127.0.0.1:%d\n",
                     ntohs(addr.sin_port));
        m_epoll = ::epoll_create1(0);
        watch(m_listener, EPOLLIN, EPOLL_CTL_ADD);
        return true;
    }

    // Serves until SIGTERM or SIGINT, then prints its counts and removes the journal.
    int run()
    {
        std::vector<epoll_event> events(256);
        std::vector<Client *> touched;
        while (!g_stop) {
            // A timeout, so a signal that lands between the check and the wait is seen.
            const int n = ::epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()),
                                       200);
            if (n < 0 && errno != EINTR)
                break;
            touched.clear();
            for (int i = 0; i < n; ++i) {
                const int fd = events[i].data.fd;
                if (fd == m_listener) {
                    acceptAll();
                    continue;
                }
                auto it = m_clients.find(fd);
                if (it == m_clients.end())
                    continue;
                Client *c = it->second.get();
                if ((events[i].events & EPOLLOUT) && !sendOut(c))
                    continue;
                if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && readIn(c))
                    touched.push_back(c);
            }
            // The pass's records are on disk before any of its answers leaves: what Redis's
            // beforeSleep does with appendfsync always.
            if (!m_pending.empty() && !flushJournal())
                return 1;
            // Every client in touched is still there: epoll reports an fd once per pass, and
            // only its own event handling can drop a client.
            for (Client *c : touched)
                sendOut(c);
        }
        const double meanUs = m_flushes ? m_flushNs / 1000.0 / static_cast<double>(m_flushes) : 0;
        std::printf("{\"xadds\": %lld, \"flushes\": %lld, \"xadds_per_flush\": %.2f, "
                    "\"fdatasync_mean_us\": %.1f}\n",
                    m_xadds, m_flushes,
                    m_flushes ? static_cast<double>(m_xadds) / static_cast<double>(m_flushes) : 0,
                    meanUs);
        if (m_journal >= 0) {
            ::close(m_journal);
            ::unlink(m_journalPath.c_str());
        }
        return 0;
    }

private:
    bool openJournal()
    {
        m_journalPath = m_o.dir + "/resp_floor." + std::to_string(::getpid()) + ".journal";
        m_journal = ::open(m_journalPath.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (m_journal < 0) {
            std::fprintf(stderr, "eddy_resp_floor: %s: %s\n", m_journalPath.c_str(),
                         std::strerror(errno));
            return false;
        }
        // Written, not fallocated: an fallocated extent is "unwritten", and the first write
        // into it is a metadata change the flush would have to commit.
        const std::string zeros(1u << 20, '\0');
        for (std::size_t off = 0; off < m_o.journalBytes; off += zeros.size())
            if (::pwrite(m_journal, zeros.data(), zeros.size(), static_cast<off_t>(off)) < 0) {
                std::fprintf(stderr, "eddy_resp_floor: preallocate %s: %s\n",
                             m_journalPath.c_str(), std::strerror(errno));
                return false;
            }
        return ::fdatasync(m_journal) == 0;
    }

    void watch(int fd, uint32_t events, int op)
    {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        ::epoll_ctl(m_epoll, op, fd, &ev);
    }

    void acceptAll()
    {
        for (;;) {
            const int fd = ::accept4(m_listener, nullptr, nullptr, SOCK_NONBLOCK);
            if (fd < 0)
                return;
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto c = std::make_unique<Client>();
            c->fd = fd;
            m_clients.emplace(fd, std::move(c));
            watch(fd, EPOLLIN, EPOLL_CTL_ADD);
        }
    }

    void drop(Client *c)
    {
        ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, c->fd, nullptr);
        ::close(c->fd);
        m_clients.erase(c->fd);
    }

    // Reads what the client sent and answers each whole request into its output; false if
    // the client is gone (closed, or dropped for a malformed request).
    bool readIn(Client *c)
    {
        char buf[65536];
        for (;;) {
            const ssize_t r = ::recv(c->fd, buf, sizeof buf, 0);
            if (r > 0) {
                c->in.append(buf, static_cast<std::size_t>(r));
                continue;
            }
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (r < 0 && errno == EINTR)
                continue;
            drop(c);
            return false;
        }
        std::size_t pos = 0;
        std::vector<std::string_view> args;
        for (;;) {
            const std::size_t start = pos;
            const Parse p = readCommand(c->in, pos, args);
            if (p == Parse::Incomplete)
                break;
            if (p == Parse::Malformed) {
                const char err[] = "-ERR Protocol error\r\n";
                ::send(c->fd, err, sizeof err - 1, MSG_NOSIGNAL);
                drop(c);
                return false;
            }
            answer(c, args, std::string_view(c->in).substr(start, pos - start));
        }
        c->in.erase(0, pos);
        return true;
    }

    static std::string bulk(std::string_view s)
    {
        return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
    }

    void answer(Client *c, const std::vector<std::string_view> &args, std::string_view raw)
    {
        if (named(args[0], "PING")) {
            c->out += "+PONG\r\n";
        } else if (named(args[0], "CONFIG") && args.size() == 3 && named(args[1], "GET")) {
            // What redis-benchmark asks before it starts: the durability this server gives.
            const std::string_view key = args[2];
            std::string value;
            bool known = true;
            if (named(key, "APPENDONLY"))
                value = m_o.flush ? "yes" : "no";
            else if (named(key, "APPENDFSYNC"))
                value = m_o.flush ? "always" : "no";
            else if (!named(key, "SAVE"))
                known = false;
            if (known)
                c->out += "*2\r\n" + bulk(key) + bulk(value);
            else
                c->out += "*0\r\n";
        } else if (named(args[0], "XADD") && args.size() >= 5) {
            // The request as it came is what a durable server must keep: it goes to the journal.
            if (m_o.flush)
                m_pending.append(raw);
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
            c->out += bulk(std::to_string(ms) + "-" + std::to_string(m_xadds++));
        } else {
            c->out += "-ERR unknown command\r\n";
        }
    }

    // Sends what is queued for the client; watches for room when the socket is full. False if
    // the client is gone.
    bool sendOut(Client *c)
    {
        while (!c->out.empty()) {
            const ssize_t w = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
            if (w > 0) {
                c->out.erase(0, static_cast<std::size_t>(w));
                continue;
            }
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!c->watchingOut)
                    watch(c->fd, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                c->watchingOut = true;
                return true;
            }
            drop(c);
            return false;
        }
        if (c->watchingOut)
            watch(c->fd, EPOLLIN, EPOLL_CTL_MOD);
        c->watchingOut = false;
        return true;
    }

    // One pwrite of the pass's records (padded to whole 4 KiB blocks, wrapping at the end of
    // the journal) and one fdatasync.
    bool flushJournal()
    {
        constexpr std::size_t kBlock = 4096;
        m_pending.resize((m_pending.size() + kBlock - 1) / kBlock * kBlock, '\0');
        const auto start = Clock::now();
        std::size_t done = 0;
        while (done < m_pending.size()) {
            if (m_offset >= m_o.journalBytes)
                m_offset = 0;
            const std::size_t chunk =
                std::min(m_pending.size() - done, m_o.journalBytes - m_offset);
            if (::pwrite(m_journal, m_pending.data() + done, chunk, static_cast<off_t>(m_offset))
                != static_cast<ssize_t>(chunk)) {
                std::fprintf(stderr, "eddy_resp_floor: journal write: %s\n", std::strerror(errno));
                return false;
            }
            done += chunk;
            m_offset += chunk;
        }
        if (::fdatasync(m_journal) != 0) {
            std::fprintf(stderr, "eddy_resp_floor: fdatasync: %s\n", std::strerror(errno));
            return false;
        }
        m_flushNs += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)
                         .count();
        ++m_flushes;
        m_pending.clear();
        return true;
    }

    Options m_o;
    int m_listener = -1;
    int m_epoll = -1;
    int m_journal = -1;
    std::string m_journalPath;
    std::size_t m_offset = 0;
    std::string m_pending;
    std::unordered_map<int, std::unique_ptr<Client>> m_clients;
    long long m_xadds = 0;
    long long m_flushes = 0;
    long long m_flushNs = 0;
};

} // namespace

int main(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "eddy_resp_floor: %s needs a value\n", k.c_str());
            return 2;
        }
        const std::string v = argv[++i];
        if (k == "--port") {
            o.port = std::atoi(v.c_str());
        } else if (k == "--flush" && (v == "none" || v == "loop")) {
            o.flush = v == "loop";
        } else if (k == "--dir") {
            o.dir = v;
        } else if (k == "--journal-mib") {
            o.journalBytes = static_cast<std::size_t>(std::max(1, std::atoi(v.c_str()))) << 20;
        } else {
            std::fprintf(stderr, "eddy_resp_floor: bad option %s %s\n", k.c_str(), v.c_str());
            return 2;
        }
    }
    if (o.port < 0 || o.port > 65535) {
        std::fprintf(stderr, "usage: eddy_resp_floor --port PORT [--flush none|loop] [--dir DIR] "
                             "[--journal-mib N]\n");
        return 2;
    }
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);
    std::signal(SIGPIPE, SIG_IGN);
    Server server(o);
    if (!server.open())
        return 1;
    return server.run();
}
