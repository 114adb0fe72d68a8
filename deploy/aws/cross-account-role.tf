# A read-only role Vigil assumes in this account, trusting only the Vigil account with an
# ExternalId. The policy is deploy/aws/vigil-readonly-policy.json, read as is (no copy to drift).
#
#   module "vigil_readonly" {
#     source           = "./deploy/aws"      # or copy this file and the policy beside it
#     vigil_account_id = "111111111111"
#     external_id      = var.vigil_external_id
#   }

variable "vigil_account_id" {
  description = "The AWS account id where Vigil runs (the only principal trusted)."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}$", var.vigil_account_id))
    error_message = "vigil_account_id must be a 12-digit AWS account id."
  }
}

variable "external_id" {
  description = "Shared secret Vigil passes as sts:ExternalId (its `external_id`)."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.external_id) >= 16
    error_message = "Use an ExternalId of at least 16 characters."
  }
}

variable "role_name" {
  description = "Name of the role; Organization discovery assumes this name in every account."
  type        = string
  default     = "VigilReadOnly"
}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "vigil_trust" {
  statement {
    sid     = "TrustVigilWithExternalId"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${var.vigil_account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

resource "aws_iam_role" "vigil_readonly" {
  name                 = var.role_name
  description          = "Read-only inventory for Vigil; never writes."
  max_session_duration = 3600
  assume_role_policy   = data.aws_iam_policy_document.vigil_trust.json
}

resource "aws_iam_role_policy" "vigil_readonly" {
  name   = "VigilReadOnly"
  role   = aws_iam_role.vigil_readonly.id
  policy = file("${path.module}/vigil-readonly-policy.json")
}

output "vigil_role_arn" {
  description = "Put this in the source's `role_arn`."
  value       = aws_iam_role.vigil_readonly.arn
}
