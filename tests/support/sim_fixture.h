#pragma once

// The simulator tests' shared fixture: a fresh durable embedded broker per test on its own
// inproc:// URL and data directory, the NNG backend on it, and a one-call scenario run.

#include "embedded_broker.h"
#include "nng_backend.h"
#include "runner.h"
#include "scenario.h"

#include <QTemporaryDir>

#include <memory>
#include <string>

struct SimFixture {
    std::unique_ptr<QTemporaryDir> dir;
    std::unique_ptr<eddy::sim::EmbeddedBroker> broker;
    std::unique_ptr<eddy::sim::BrokerBackend> backend;

    // Starts the broker on inproc://<prefix>-<n>; an empty string on success, else the error.
    std::string start(const std::string &prefix)
    {
        static int round = 0;
        dir = std::make_unique<QTemporaryDir>();
        eddy::sim::EmbeddedBroker::Options o;
        o.config.dataDir = dir->path().toStdString();
        o.config.durability = eddy::Durability::Durable;
        o.server.requests.listen = {"inproc://" + prefix + "-" + std::to_string(++round)};
        o.server.publish = {};
        auto b = eddy::sim::EmbeddedBroker::start(std::move(o));
        if (!b)
            return b.error().message;
        broker = std::move(*b);
        backend = eddy::sim::makeNngBackend(broker->clientUrl());
        return {};
    }

    void stop()
    {
        backend.reset();
        broker.reset();
        dir.reset();
    }

    // Parses json and runs it to the end on this broker.
    eddy::Result<eddy::sim::Report> run(const std::string &json,
                                        eddy::sim::RunnerOptions options = {})
    {
        auto scenario = eddy::sim::parseScenario(json);
        if (!scenario)
            return scenario.error();
        eddy::sim::SimulationRunner runner(*scenario, *backend, broker.get(), std::move(options));
        return runner.run();
    }
};
