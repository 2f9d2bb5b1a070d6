# nomad-spec serve: the pull-request bot as a webhook server for a whole organisation.
#
# Two instances behind Fabio (or any load balancer that reads Consul): they share their work
# queue and one lock per change request in Nomad Variables (nomad-spec/serve/...), so a
# delivery is worked on once whichever instance receives it, and the work of an instance that
# dies is taken over when its lock expires.
#
# Secrets come from Vault (KV v2 at secret/nomad-spec): the webhook secret, the GitHub App's id
# and private key, and a Nomad token whose policy may write variables under nomad-spec/serve/
# and submit the jobs the bot deploys. See the README, "Running nomad-spec serve".

variable "image" {
  type        = string
  description = "The nomad-spec image."
  default     = "ghcr.io/nomad-spec/nomad-spec:latest"
}

variable "nomad_addr" {
  type        = string
  description = "The Nomad API the bot plans, deploys and keeps its queue on."
  default     = "https://nomad.service.consul:4646"
}

job "nomad-spec" {
  type = "service"

  group "serve" {
    count = 2

    # The two instances on different machines, so one machine's loss leaves one running.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "http" {
        to = 8080
      }
    }

    update {
      max_parallel     = 1
      min_healthy_time = "10s"
      healthy_deadline = "3m"
      auto_revert      = true
    }

    service {
      name = "nomad-spec"
      port = "http"
      tags = ["urlprefix-/webhooks"]

      check {
        name     = "alive"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }

      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "3s"
      }
    }

    task "serve" {
      driver = "docker"

      config {
        image = var.image
        args  = ["serve", "--listen", "0.0.0.0:8080"]
        ports = ["http"]
      }

      # SIGTERM: the server stops taking deliveries and finishes the runs in progress (a
      # deploy watch can take minutes); what is still queued stays for the other instance.
      kill_signal  = "SIGTERM"
      kill_timeout = "5m"

      vault {
        policies = ["nomad-spec"]
      }

      template {
        destination = "secrets/github-app.pem"
        perms       = "0400"
        data        = <<-EOT
          {{ with secret "secret/data/nomad-spec" }}{{ .Data.data.github_app_private_key }}{{ end }}
        EOT
      }

      template {
        destination = "secrets/serve.env"
        env         = true
        data        = <<-EOT
          {{ with secret "secret/data/nomad-spec" }}
          NOMAD_SPEC_GITHUB_WEBHOOK_SECRET={{ .Data.data.github_webhook_secret }}
          NOMAD_SPEC_GITHUB_APP_ID={{ .Data.data.github_app_id }}
          NOMAD_TOKEN={{ .Data.data.nomad_token }}
          {{ end }}
        EOT
      }

      env {
        NOMAD_SPEC_GITHUB_APP_PRIVATE_KEY_FILE = "${NOMAD_SECRETS_DIR}/github-app.pem"
        NOMAD_ADDR                             = var.nomad_addr
        RUST_LOG                               = "nomad_spec=info"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
