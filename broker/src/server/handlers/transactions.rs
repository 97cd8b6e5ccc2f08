//! The transaction coordinator's APIs. Today only InitProducerId: an idempotent producer gets
//! its producer id and epoch here; a transactional.id is refused until transactions come.

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;

use crate::server::Shared;

pub(super) fn init_producer_id(sh: &Shared, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    if req.transactional_id.is_some() {
        tracing::info!(
            "InitProducerId with a transactional.id refused: transactions are not supported yet"
        );
        resp.error_code = E::TransactionalIdAuthorizationFailed.code();
        resp.producer_id = ProducerId(-1);
        resp.producer_epoch = -1;
        return resp;
    }
    // KIP-360: a known producer asks for an epoch bump; otherwise a fresh id.
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        resp.producer_id = req.producer_id;
        resp.producer_epoch = req.producer_epoch + 1;
    } else {
        resp.producer_id = ProducerId(sh.producers.new_id());
        resp.producer_epoch = 0;
    }
    resp
}
