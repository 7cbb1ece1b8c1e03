// A minimal blocking Kafka protocol client for the listener's tests: one TCP connection to a
// loopback port, requests framed by hand (header v1, or v2 for ApiVersions v3), responses read
// whole and checked for their correlation id. Every read is bounded by a receive timeout, so a
// listener that never answers fails the test instead of hanging it.
#pragma once

#include "kafka_codec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <optional>
#include <string>

class KafkaTestClient
{
public:
    // receiveBuffer > 0 shrinks the socket's receive buffer (before connecting, so the window
    // offered is small too): a client that reads slowly.
    explicit KafkaTestClient(int port, int timeoutMs = 5000, int receiveBuffer = 0)
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (receiveBuffer > 0)
            ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int one = 1;
        ::setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(m_fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
            ::close(m_fd);
            m_fd = -1;
        }
    }
    ~KafkaTestClient()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    KafkaTestClient(const KafkaTestClient &) = delete;
    KafkaTestClient &operator=(const KafkaTestClient &) = delete;

    bool connected() const { return m_fd >= 0; }

    // Sends raw bytes as they are (a frame of the caller's making, or part of one).
    bool sendRaw(const std::string &bytes)
    {
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::send(m_fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

    // Sends a request (header built here) and returns its correlation id.
    int32_t send(int16_t apiKey, int16_t version, const std::string &body)
    {
        std::string frame;
        const int32_t id = appendFrame(frame, apiKey, version, body);
        return sendRaw(frame) ? id : -1;
    }

    // Appends a request frame to out without sending it (requests pipelined in one write);
    // returns its correlation id.
    int32_t appendFrame(std::string &out, int16_t apiKey, int16_t version, const std::string &body)
    {
        std::string frame;
        eddy::kafka::KafkaWriter w(frame);
        w.i32(0);
        w.i16(apiKey);
        w.i16(version);
        const int32_t id = ++m_nextId;
        w.i32(id);
        w.nullableString(std::string_view("eddy-test"));
        if (apiKey == 18 && version >= 3)
            w.noTaggedFields();
        w.raw(body);
        w.patchI32(0, static_cast<int32_t>(frame.size() - 4));
        out += frame;
        return id;
    }

    // Reads one response frame; returns its body after the correlation id, which must be
    // expectedId. nullopt on timeout, close or a wrong id.
    std::optional<std::string> receive(int32_t expectedId)
    {
        std::string size(4, '\0');
        if (!readExactly(size))
            return std::nullopt;
        eddy::kafka::KafkaReader sr(size);
        const int32_t n = sr.i32();
        if (n < 4 || n > (256 << 20))
            return std::nullopt;
        std::string body(static_cast<std::size_t>(n), '\0');
        if (!readExactly(body))
            return std::nullopt;
        eddy::kafka::KafkaReader br(body);
        if (br.i32() != expectedId)
            return std::nullopt;
        return body.substr(4);
    }

    std::optional<std::string> request(int16_t apiKey, int16_t version, const std::string &body)
    {
        const int32_t id = send(apiKey, version, body);
        if (id < 0)
            return std::nullopt;
        return receive(id);
    }

    // True when the server closed the connection (a read returns end of file or a reset) within
    // the receive timeout.
    bool closedByServer()
    {
        char c;
        const ssize_t n = ::recv(m_fd, &c, 1, 0);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }

private:
    bool readExactly(std::string &buf)
    {
        std::size_t done = 0;
        while (done < buf.size()) {
            const ssize_t n = ::recv(m_fd, buf.data() + done, buf.size() - done, 0);
            if (n <= 0)
                return false;
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

    int m_fd = -1;
    int32_t m_nextId = 0;
};
