//! Monthly coffees through Stripe's Billing API (async-stripe-billing): cancelling a
//! subscription, the customer portal for a new payment method, and what the daily sweep asks.
//! Responses are read leniently, like webhook events.

use stripe::IdempotencyKey;
use stripe_billing::BillingPortalSessionLocale;
use stripe_billing::billing_portal_session::{
    CreateBillingPortalSession, CreateBillingPortalSessionFlowData,
    CreateBillingPortalSessionFlowDataAfterCompletion,
    CreateBillingPortalSessionFlowDataAfterCompletionRedirect,
    CreateBillingPortalSessionFlowDataAfterCompletionType, CreateBillingPortalSessionFlowDataType,
};
use stripe_billing::invoice::ListInvoice;
use stripe_billing::subscription::{CancelSubscription, RetrieveSubscription, UpdateSubscription};
use stripe_client_core::StripeRequest;

use super::stripe::StripeProvider;
use super::{CancelWhen, ProviderError};
use crate::i18n::Lang;
use crate::webhook::event::{Invoice, Subscription};

impl StripeProvider {
    /// Ends a subscription at once (`DELETE`), or at the end of its paid period. Returns the
    /// subscription as Stripe then holds it; `None` if Stripe no longer knows it (long gone).
    pub async fn cancel_subscription(
        &self,
        id: &str,
        when: CancelWhen,
        key: &str,
    ) -> Result<Option<Subscription>, ProviderError> {
        let key = IdempotencyKey::new(format!("kaffeekasse-cancel-{key}"))
            .map_err(|e| ProviderError::Failed(format!("idempotency key: {e:?}")))?;
        let request = match when {
            CancelWhen::Now => CancelSubscription::new(id).build(),
            CancelWhen::PeriodEnd => UpdateSubscription::new(id).cancel_at_period_end(true).build(),
        };
        match self.send(request, Some(key), "cancel_subscription").await {
            Ok(sub) => Ok(Some(sub)),
            Err(ProviderError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A customer-portal session that only lets the reader change their payment method; the
    /// URL to send them to (it is a capability: never logged).
    pub async fn payment_method_portal(
        &self,
        customer: &str,
        return_url: &str,
        lang: Lang,
    ) -> Result<String, ProviderError> {
        #[derive(serde::Deserialize)]
        struct Portal {
            url: String,
        }
        let request = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .locale(match lang {
                Lang::De => BillingPortalSessionLocale::De,
                Lang::En => BillingPortalSessionLocale::En,
            })
            .flow_data(CreateBillingPortalSessionFlowData {
                // Straight back to the manage page once the method is saved, not on to the
                // portal's home page (which may offer more than we want the link to).
                after_completion: Some(CreateBillingPortalSessionFlowDataAfterCompletion {
                    redirect: Some(CreateBillingPortalSessionFlowDataAfterCompletionRedirect::new(
                        return_url,
                    )),
                    ..CreateBillingPortalSessionFlowDataAfterCompletion::new(
                        CreateBillingPortalSessionFlowDataAfterCompletionType::Redirect,
                    )
                }),
                ..CreateBillingPortalSessionFlowData::new(
                    CreateBillingPortalSessionFlowDataType::PaymentMethodUpdate,
                )
            });
        let portal: Portal = self.send(request.build(), None, "portal_session").await?;
        Ok(portal.url)
    }

    /// The subscription as Stripe holds it; `None` if Stripe does not know it.
    pub async fn retrieve_subscription(&self, id: &str) -> Result<Option<Subscription>, ProviderError> {
        match self
            .send(
                RetrieveSubscription::new(id).build(),
                None,
                "retrieve_subscription",
            )
            .await
        {
            Ok(sub) => Ok(Some(sub)),
            Err(ProviderError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The subscription's paid invoices (the newest 100), with the payments that paid them.
    pub async fn paid_invoices(&self, subscription: &str) -> Result<Vec<Invoice>, ProviderError> {
        #[derive(serde::Deserialize)]
        struct List {
            #[serde(default)]
            data: Vec<serde_json::Value>,
        }
        let request = ListInvoice::new()
            .subscription(subscription)
            .status(stripe_billing::InvoiceStatus::Paid)
            .limit(100)
            .expand(vec!["data.payments".to_owned()]);
        let list: List = self.send(request.build(), None, "list_invoices").await?;
        // One unreadable invoice must not hide the others.
        Ok(list
            .data
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect())
    }
}
