//! What a dependency means, per ecosystem: frameworks with their conventional port and health
//! path, gRPC servers, client libraries of backing services, machine-learning libraries.
//!
//! Order matters: within a table, the first framework that matches a dependency wins, so
//! full-stack frameworks come before the libraries they are built on (`@nestjs/core` before
//! `express`), and servers (`gunicorn`) come last. A port is given only where it is the
//! framework's own default or its documented convention; the `why` says which.
//!
//! A pattern is a dependency name (normalized by its parser: lowercase; Python `_` as `-`;
//! Maven `group:artifact`), `*` at its end for a prefix, `[x]` at its end for a dependency with
//! the feature or extra `x`.

/// What a matching dependency tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A server-side framework.
    Framework {
        name: &'static str,
        port: Option<u16>,
        health: Option<&'static str>,
        why: &'static str,
    },
    /// A front-end toolchain; its port is the dev server's. Counts only when no server-side
    /// framework is found.
    Frontend { name: &'static str, port: Option<u16>, why: &'static str },
    /// Enables a health endpoint of a framework (Spring Boot's actuator, Quarkus' health).
    Health { framework: &'static str, path: &'static str, why: &'static str },
    /// A server that, when present, decides the port of the given frameworks.
    Serves { frameworks: &'static [&'static str], port: u16, why: &'static str },
    /// A gRPC server library.
    Grpc,
    /// A client library of a backing service (`postgres`, `redis`, ...).
    Backing(&'static str),
    /// A machine-learning library (compute class resources).
    Ml,
}

use Effect::{Backing, Frontend, Grpc, Health, Ml, Serves};

const fn fw(
    name: &'static str,
    port: Option<u16>,
    health: Option<&'static str>,
    why: &'static str,
) -> Effect {
    Effect::Framework { name, port, health, why }
}

/// One rule: a dependency pattern and what it tells.
pub type Rule = (&'static str, Effect);

/// npm packages.
pub const NODE: &[Rule] = &[
    ("@nestjs/core", fw("nest", Some(3000), None, "Nest's starter listens on 3000")),
    ("next", fw("next", Some(3000), None, "next start serves on 3000 by default")),
    ("nuxt", fw("nuxt", Some(3000), None, "Nuxt serves on 3000 by default")),
    ("fastify", fw("fastify", Some(3000), None, "Fastify's documented examples listen on 3000")),
    ("express", fw("express", Some(3000), None, "express-generator's apps listen on 3000")),
    ("koa", fw("koa", None, None, "Koa has no default port")),
    ("@hapi/hapi", fw("hapi", None, None, "hapi has no default port")),
    ("@angular/core", Frontend { name: "angular", port: Some(4200), why: "ng serve uses 4200" }),
    (
        "react-scripts",
        Frontend { name: "react", port: Some(3000), why: "react-scripts start uses 3000" },
    ),
    ("vite", Frontend { name: "vite", port: Some(5173), why: "the Vite dev server uses 5173" }),
    ("@grpc/grpc-js", Grpc),
    ("grpc", Grpc),
    ("pg", Backing("postgres")),
    ("pg-promise", Backing("postgres")),
    ("postgres", Backing("postgres")),
    ("mysql", Backing("mysql")),
    ("mysql2", Backing("mysql")),
    ("redis", Backing("redis")),
    ("ioredis", Backing("redis")),
    ("bull", Backing("redis")),
    ("bullmq", Backing("redis")),
    ("mongoose", Backing("mongo")),
    ("mongodb", Backing("mongo")),
    ("amqplib", Backing("rabbitmq")),
    ("amqp-connection-manager", Backing("rabbitmq")),
    ("kafkajs", Backing("kafka")),
    ("nats", Backing("nats")),
    ("@elastic/elasticsearch", Backing("elasticsearch")),
    ("memcached", Backing("memcached")),
    ("cassandra-driver", Backing("cassandra")),
    ("@tensorflow/tfjs-node", Ml),
    ("onnxruntime-node", Ml),
];

/// PyPI distributions.
pub const PYTHON: &[Rule] = &[
    ("django", fw("django", Some(8000), None, "Django's runserver uses 8000")),
    ("fastapi", fw("fastapi", Some(8000), None, "uvicorn, its server, uses 8000 by default")),
    ("flask", fw("flask", Some(5000), None, "flask run uses 5000 by default")),
    ("starlette", fw("starlette", Some(8000), None, "uvicorn, its server, uses 8000 by default")),
    ("sanic", fw("sanic", Some(8000), None, "Sanic uses 8000 by default")),
    ("aiohttp", fw("aiohttp", Some(8080), None, "aiohttp's web.run_app uses 8080 by default")),
    ("bottle", fw("bottle", Some(8080), None, "Bottle's run uses 8080 by default")),
    ("tornado", fw("tornado", None, None, "Tornado has no default port")),
    ("falcon", fw("falcon", None, None, "Falcon has no default port")),
    ("celery", fw("celery", None, None, "a Celery worker listens on no port")),
    ("gunicorn", fw("gunicorn", Some(8000), None, "gunicorn binds 8000 by default")),
    ("uvicorn", fw("uvicorn", Some(8000), None, "uvicorn binds 8000 by default")),
    (
        "gunicorn",
        Serves { frameworks: &["flask"], port: 8000, why: "gunicorn binds 8000 by default" },
    ),
    ("grpcio", Grpc),
    ("grpclib", Grpc),
    ("psycopg2", Backing("postgres")),
    ("psycopg2-binary", Backing("postgres")),
    ("psycopg", Backing("postgres")),
    ("psycopg-binary", Backing("postgres")),
    ("asyncpg", Backing("postgres")),
    ("pg8000", Backing("postgres")),
    ("pymysql", Backing("mysql")),
    ("mysqlclient", Backing("mysql")),
    ("mysql-connector-python", Backing("mysql")),
    ("mysql-connector", Backing("mysql")),
    ("aiomysql", Backing("mysql")),
    ("redis", Backing("redis")),
    ("aioredis", Backing("redis")),
    ("hiredis", Backing("redis")),
    ("rq", Backing("redis")),
    ("celery[redis]", Backing("redis")),
    ("pymongo", Backing("mongo")),
    ("motor", Backing("mongo")),
    ("mongoengine", Backing("mongo")),
    ("flask-pymongo", Backing("mongo")),
    ("pika", Backing("rabbitmq")),
    ("aio-pika", Backing("rabbitmq")),
    ("kafka-python", Backing("kafka")),
    ("confluent-kafka", Backing("kafka")),
    ("aiokafka", Backing("kafka")),
    ("elasticsearch", Backing("elasticsearch")),
    ("nats-py", Backing("nats")),
    ("pymemcache", Backing("memcached")),
    ("python-memcached", Backing("memcached")),
    ("cassandra-driver", Backing("cassandra")),
    ("torch", Ml),
    ("tensorflow", Ml),
    ("tensorflow-cpu", Ml),
    ("jax", Ml),
    ("transformers", Ml),
    ("sentence-transformers", Ml),
    ("onnxruntime", Ml),
    ("vllm", Ml),
];

/// Go modules (lowercase).
pub const GO: &[Rule] = &[
    (
        "github.com/gin-gonic/gin",
        fw("gin", Some(8080), None, "gin's Run() listens on :8080 by default"),
    ),
    ("github.com/labstack/echo*", fw("echo", None, None, "Echo has no default port")),
    ("github.com/gofiber/fiber*", fw("fiber", None, None, "Fiber has no default port")),
    ("github.com/go-chi/chi*", fw("chi", None, None, "chi is a router; the port is in code")),
    (
        "github.com/gorilla/mux",
        fw("gorilla", None, None, "gorilla/mux is a router; the port is in code"),
    ),
    ("google.golang.org/grpc", Grpc),
    ("github.com/lib/pq", Backing("postgres")),
    ("github.com/jackc/pgx*", Backing("postgres")),
    ("gorm.io/driver/postgres", Backing("postgres")),
    ("github.com/go-sql-driver/mysql", Backing("mysql")),
    ("gorm.io/driver/mysql", Backing("mysql")),
    ("github.com/go-redis/redis*", Backing("redis")),
    ("github.com/redis/go-redis*", Backing("redis")),
    ("github.com/gomodule/redigo", Backing("redis")),
    ("go.mongodb.org/mongo-driver*", Backing("mongo")),
    ("github.com/streadway/amqp", Backing("rabbitmq")),
    ("github.com/rabbitmq/amqp091-go", Backing("rabbitmq")),
    ("github.com/segmentio/kafka-go", Backing("kafka")),
    ("github.com/confluentinc/confluent-kafka-go*", Backing("kafka")),
    ("github.com/ibm/sarama", Backing("kafka")),
    ("github.com/shopify/sarama", Backing("kafka")),
    ("github.com/nats-io/nats.go", Backing("nats")),
    ("github.com/elastic/go-elasticsearch*", Backing("elasticsearch")),
];

/// Crates.
pub const RUST: &[Rule] = &[
    ("actix-web", fw("actix", Some(8080), None, "actix-web's examples bind 8080")),
    ("axum", fw("axum", Some(3000), None, "axum's examples bind 3000")),
    ("rocket", fw("rocket", Some(8000), None, "Rocket listens on 8000 by default")),
    ("warp", fw("warp", Some(3030), None, "warp's examples bind 3030")),
    ("poem", fw("poem", Some(3000), None, "poem's examples bind 3000")),
    ("tonic", fw("tonic", Some(50051), None, "gRPC services conventionally use 50051")),
    ("tonic", Grpc),
    ("tokio-postgres", Backing("postgres")),
    ("postgres", Backing("postgres")),
    ("deadpool-postgres", Backing("postgres")),
    ("sqlx[postgres]", Backing("postgres")),
    ("diesel[postgres]", Backing("postgres")),
    ("mysql", Backing("mysql")),
    ("mysql_async*", Backing("mysql")),
    ("sqlx[mysql]", Backing("mysql")),
    ("diesel[mysql]", Backing("mysql")),
    ("redis", Backing("redis")),
    ("deadpool-redis", Backing("redis")),
    ("fred", Backing("redis")),
    ("mongodb", Backing("mongo")),
    ("lapin", Backing("rabbitmq")),
    ("rdkafka", Backing("kafka")),
    ("async-nats", Backing("nats")),
    ("tch", Ml),
    ("candle-core", Ml),
    ("ort", Ml),
];

/// Maven coordinates `group:artifact`, and Gradle plugins as `plugin:id`.
pub const JVM: &[Rule] = &[
    (
        "org.springframework.boot:*",
        fw("spring-boot", Some(8080), None, "Spring Boot listens on 8080 by default"),
    ),
    (
        "plugin:org.springframework.boot",
        fw("spring-boot", Some(8080), None, "Spring Boot listens on 8080 by default"),
    ),
    ("io.quarkus*", fw("quarkus", Some(8080), None, "Quarkus listens on 8080 by default")),
    ("plugin:io.quarkus", fw("quarkus", Some(8080), None, "Quarkus listens on 8080 by default")),
    ("io.micronaut*", fw("micronaut", Some(8080), None, "Micronaut listens on 8080 by default")),
    (
        "plugin:io.micronaut*",
        fw("micronaut", Some(8080), None, "Micronaut listens on 8080 by default"),
    ),
    (
        "com.sparkjava:spark-core",
        fw("sparkjava", Some(4567), None, "Spark Java listens on 4567 by default"),
    ),
    ("io.javalin:*", fw("javalin", Some(8080), None, "Javalin listens on 8080 by default")),
    (
        "io.dropwizard:*",
        fw("dropwizard", Some(8080), None, "Dropwizard serves the app on 8080 by default"),
    ),
    ("io.ktor:*", fw("ktor", Some(8080), None, "Ktor's generated projects use 8080")),
    ("io.vertx:*", fw("vertx", None, None, "Vert.x has no default port")),
    (
        "org.springframework.boot:spring-boot-starter-actuator",
        Health {
            framework: "spring-boot",
            path: "/actuator/health",
            why: "actuator serves /actuator/health",
        },
    ),
    (
        "io.quarkus:quarkus-smallrye-health",
        Health { framework: "quarkus", path: "/q/health", why: "smallrye-health serves /q/health" },
    ),
    (
        "io.micronaut:micronaut-management",
        Health {
            framework: "micronaut",
            path: "/health",
            why: "micronaut-management serves /health",
        },
    ),
    ("io.grpc:grpc-netty*", Grpc),
    ("io.grpc:grpc-servlet*", Grpc),
    ("net.devh:grpc-server-spring-boot-starter", Grpc),
    ("net.devh:grpc-spring-boot-starter", Grpc),
    ("io.quarkus:quarkus-grpc", Grpc),
    ("org.postgresql:postgresql", Backing("postgres")),
    ("mysql:mysql-connector-java", Backing("mysql")),
    ("com.mysql:mysql-connector-j", Backing("mysql")),
    ("org.mariadb.jdbc:mariadb-java-client", Backing("mysql")),
    ("org.springframework.boot:spring-boot-starter-data-redis*", Backing("redis")),
    ("redis.clients:jedis", Backing("redis")),
    ("io.lettuce:lettuce-core", Backing("redis")),
    ("org.redisson:redisson*", Backing("redis")),
    ("org.springframework.boot:spring-boot-starter-data-mongodb*", Backing("mongo")),
    ("org.mongodb:*", Backing("mongo")),
    ("org.springframework.boot:spring-boot-starter-amqp", Backing("rabbitmq")),
    ("com.rabbitmq:amqp-client", Backing("rabbitmq")),
    ("org.springframework.kafka:spring-kafka", Backing("kafka")),
    ("org.apache.kafka:kafka-clients", Backing("kafka")),
    ("com.microsoft.sqlserver:mssql-jdbc", Backing("mssql")),
];

/// NuGet packages (lowercase), and the project SDK as `sdk:name`.
pub const DOTNET: &[Rule] = &[
    (
        "sdk:microsoft.net.sdk.web",
        fw("aspnet", Some(8080), None, "ASP.NET Core container images listen on 8080 since .NET 8"),
    ),
    ("sdk:microsoft.net.sdk.worker", fw("worker", None, None, "a .NET worker listens on no port")),
    ("grpc.aspnetcore*", Grpc),
    ("npgsql*", Backing("postgres")),
    ("mysql.data", Backing("mysql")),
    ("mysqlconnector", Backing("mysql")),
    ("pomelo.entityframeworkcore.mysql", Backing("mysql")),
    ("stackexchange.redis", Backing("redis")),
    ("microsoft.extensions.caching.stackexchangeredis", Backing("redis")),
    ("mongodb.driver", Backing("mongo")),
    ("rabbitmq.client", Backing("rabbitmq")),
    ("masstransit.rabbitmq", Backing("rabbitmq")),
    ("confluent.kafka", Backing("kafka")),
    ("microsoft.data.sqlclient", Backing("mssql")),
    ("microsoft.entityframeworkcore.sqlserver", Backing("mssql")),
];

/// Composer packages and PHP extensions (`ext-*`).
pub const PHP: &[Rule] = &[
    (
        "laravel/framework",
        fw("laravel", None, Some("/up"), "Laravel 11 serves /up; the port is the web server's"),
    ),
    ("symfony/framework-bundle", fw("symfony", None, None, "the port is the web server's")),
    ("slim/slim", fw("slim", None, None, "the port is the web server's")),
    ("grpc/grpc", Grpc),
    ("spiral/roadrunner-grpc", Grpc),
    ("ext-pdo_pgsql", Backing("postgres")),
    ("ext-pgsql", Backing("postgres")),
    ("ext-pdo_mysql", Backing("mysql")),
    ("ext-mysqli", Backing("mysql")),
    ("predis/predis", Backing("redis")),
    ("ext-redis", Backing("redis")),
    ("mongodb/mongodb", Backing("mongo")),
    ("ext-mongodb", Backing("mongo")),
    ("php-amqplib/php-amqplib", Backing("rabbitmq")),
];

/// Gems.
pub const RUBY: &[Rule] = &[
    ("rails", fw("rails", Some(3000), Some("/up"), "Rails serves on 3000 and, since 7.1, /up")),
    ("sinatra", fw("sinatra", Some(4567), None, "Sinatra listens on 4567 by default")),
    ("hanami", fw("hanami", Some(2300), None, "Hanami serves on 2300 by default")),
    ("roda", fw("roda", None, None, "Roda has no default port")),
    ("grpc", Grpc),
    ("gruf", Grpc),
    ("pg", Backing("postgres")),
    ("mysql2", Backing("mysql")),
    ("redis", Backing("redis")),
    ("sidekiq", Backing("redis")),
    ("resque", Backing("redis")),
    ("mongoid", Backing("mongo")),
    ("mongo", Backing("mongo")),
    ("bunny", Backing("rabbitmq")),
    ("sneakers", Backing("rabbitmq")),
    ("ruby-kafka", Backing("kafka")),
    ("rdkafka", Backing("kafka")),
    ("karafka", Backing("kafka")),
];

/// Whether `pattern` matches a dependency `name` with `features`.
pub fn matches(pattern: &str, name: &str, features: &[String]) -> bool {
    if let Some((base, rest)) = pattern.split_once('[') {
        let feature = rest.trim_end_matches(']');
        return base == name && features.iter().any(|f| f == feature);
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let features = ["postgres".to_string()];
        let cases = [
            ("express", "express", &[][..], true),
            ("express", "express-session", &[][..], false),
            ("io.quarkus*", "io.quarkus:quarkus-rest", &[][..], true),
            ("sqlx[postgres]", "sqlx", &features[..], true),
            ("sqlx[mysql]", "sqlx", &features[..], false),
            ("sqlx[postgres]", "sqlx-core", &features[..], false),
        ];
        for (pattern, name, features, expected) in cases {
            assert_eq!(matches(pattern, name, features), expected, "{pattern} {name}");
        }
    }
}
